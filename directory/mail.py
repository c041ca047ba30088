"""Outgoing mail behind one small interface. The embedded default writes each message as an
.eml file under $ATELIER_DATA_DIR/mail/ and logs that it did (never the body: it holds tokens)."""

from __future__ import annotations

import logging
import os
import secrets
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

__all__ = ["FolderMailer", "Mailer"]

log = logging.getLogger("atelier.mail")
SENDER = "Atelier <no-reply@atelier.invalid>"


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


class FolderMailer:
    """Writes messages where an operator (or a test) can read them; a real relay plugs in
    behind the same Protocol."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, to: str, subject: str, body: str) -> None:
        msg = EmailMessage()
        msg["From"] = SENDER
        msg["To"] = to
        msg["Subject"] = subject
        msg["Date"] = formatdate(localtime=False)
        msg["Message-ID"] = make_msgid(domain="atelier.invalid")
        # 8bit, not quoted-printable: a person (or grep) reading the file sees links whole.
        msg.set_content(body, charset="utf-8", cte="8bit")
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{secrets.token_hex(8)}.eml"
        # Written then renamed: a reader never sees half a message. Owner-only: it holds tokens.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(msg.as_bytes())
        tmp.rename(path)
        log.info("mail written", extra={"to": to, "subject": subject, "file": str(path)})
