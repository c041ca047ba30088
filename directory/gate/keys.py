"""API keys: shown once, stored as a hash, found by a public prefix, checked by scope."""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.db import utcnow
from directory.errors import InvalidInput, NotFound
from directory.gate.sessions import digest
from directory.ids import new_id
from directory.models import ApiKey

__all__ = ["SCOPES", "Scope", "create_key", "list_keys", "revoke_key", "verify"]

Scope = Literal["admin", "search:batch", "changes", "networks:write", "attest", "metrics"]
SCOPES: tuple[str, ...] = (
    "admin",
    "search:batch",
    "changes",
    "networks:write",
    "attest",
    "metrics",
)
_INTEGRATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_KEY = re.compile(r"^atk_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$")


def create_key(
    session: Session,
    name: str,
    scopes: Iterable[str],
    expires_at: datetime | None = None,
    integration: str | None = None,
) -> tuple[ApiKey, str]:
    """A new key and its secret; the secret is not kept and cannot be shown again."""
    scopes = sorted(set(scopes))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise InvalidInput(
            f"scopes must be among {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}"
        )
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a key name has 1 to 100 characters")
    if integration is not None and not _INTEGRATION.match(integration):
        raise InvalidInput("an integration name is 1 to 64 of a-z, 0-9, '-' and '_'")
    prefix = secrets.token_hex(5)
    secret = secrets.token_urlsafe(32)
    key_id = new_id("key")
    key = ApiKey(
        id=key_id,
        integration=integration or key_id,
        prefix=prefix,
        secret_hash=digest(secret),
        name=name,
        scopes=scopes,
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return key, f"atk_{prefix}_{secret}"


def verify(session: Session, presented: str, now: datetime | None = None) -> ApiKey | None:
    """The live key matching a presented secret, or None (unknown, wrong, revoked or expired)."""
    match = _KEY.match(presented)
    if match is None:
        return None
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == match.group(1))).one_or_none()
    if key is None or not hmac.compare_digest(key.secret_hash, digest(match.group(2))):
        return None
    now = now or utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    return key


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))


def revoke_key(session: Session, prefix_or_id: str) -> ApiKey:
    key = session.scalars(
        select(ApiKey).where((ApiKey.prefix == prefix_or_id) | (ApiKey.id == prefix_or_id))
    ).one_or_none()
    if key is None:
        raise NotFound(f"no key {prefix_or_id!r}")
    key.revoked_at = key.revoked_at or utcnow()
    return key
