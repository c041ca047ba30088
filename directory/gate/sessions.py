"""Secrets presented by callers: the one fast digest they are kept under, and the live session
behind a presented token."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.models import Account, AuthSession

__all__ = ["digest", "find_session"]


def digest(secret: str) -> str:
    """Keys, session, CSRF and mail tokens carry 256 random bits: a fast hash is enough (no
    stretching needed, unlike passwords)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def find_session(session: Session, token: str, now: datetime) -> tuple[AuthSession, Account] | None:
    """The live session for a presented token and its account, in one query."""
    row = session.execute(
        select(AuthSession, Account)
        .join(Account, Account.id == AuthSession.account_id)
        .where(
            AuthSession.token_hash == digest(token),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            Account.disabled_at.is_(None),
            Account.verified_at.is_not(None),
        )
    ).one_or_none()
    return (row[0], row[1]) if row else None
