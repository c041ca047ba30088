"""Repairer accounts: sign-up with a verified address, argon2id passwords, sessions that end the
moment they are revoked. Every secret (password, session, CSRF and mail tokens) is kept hashed."""

from __future__ import annotations

import functools
import re
import secrets
from datetime import datetime, timedelta

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from directory.accounts.schemas import ADDRESS
from directory.db import utcnow
from directory.errors import FieldError, Forbidden, InvalidInput, Unauthorized
from directory.gate.sessions import digest
from directory.mail import Mailer
from directory.models import Account, AccountToken, AuthSession, Invitation, Role

__all__ = [
    "HASHER",
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "NewSession",
    "check_password",
    "login",
    "logout",
    "normalise_email",
    "signup",
    "verify_email",
]

# argon2-cffi's defaults are RFC 9106's second recommended profile: argon2id, 3 passes over
# 64 MiB with 4 lanes (~125 ms on this machine; bench/access_bench.py measures it).
HASHER = PasswordHasher()
MIN_PASSWORD, MAX_PASSWORD = 12, 128
ZXCVBN_MAX = 72  # the longest input zxcvbn rates
VERIFY_HOURS = 24
_EMAIL = re.compile(ADDRESS)


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this when the address is unknown makes a miss cost what a hit costs,
    so timing does not tell which addresses have accounts. Made on first use, not at import:
    every CLI command imports this module."""
    return HASHER.hash(secrets.token_urlsafe(16))


def normalise_email(raw: str, pointer: str = "/email") -> str:
    email = raw.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput("invalid email", errors=[FieldError(pointer, "not an email address")])
    local, _, domain = email.rpartition("@")
    # The domain is case-insensitive; local parts are in practice, and treating them so stops
    # two accounts for one mailbox.
    return f"{local.lower()}@{domain.lower()}"


def check_password(password: str, email: str) -> None:
    """Length first (cheap, and bounds the work below), then zxcvbn's estimate, which knows
    breached and common passwords, keyboard walks, dates, repeats and l33t substitutions."""
    problem: str | None = None
    if len(password) < MIN_PASSWORD:
        problem = f"use at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        problem = f"use at most {MAX_PASSWORD} characters"
    else:
        local = email.partition("@")[0]
        # zxcvbn refuses to rate more than 72 characters (ValueError, which was a 500 for any
        # longer passphrase): rate the first 72. A passphrase whose first 72 characters are
        # hard to guess is at least as hard whole.
        verdict = zxcvbn(password[:ZXCVBN_MAX], user_inputs=[email, local, "atelier", "garage"])
        if verdict["score"] < 3:
            hint = verdict["feedback"].get("warning") or "it is too easy to guess"
            problem = f"choose a harder password: {hint.rstrip('.')}"
    if problem:
        raise InvalidInput("weak password", errors=[FieldError("/password", problem)])


def _one_time(session: Session, account: Account, purpose: str, **extra: object) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        AccountToken(
            token_hash=digest(token),
            account_id=account.id,
            purpose=purpose,
            expires_at=utcnow() + timedelta(hours=VERIFY_HOURS),
            **extra,
        )
    )
    return token


def signup(session: Session, mailer: Mailer, public_url: str, email: str, password: str) -> None:
    """Always the same outcome to the caller, whether or not the address has an account."""
    email = normalise_email(email)
    check_password(password, email)
    hashed = HASHER.hash(password)
    account = session.scalars(select(Account).where(Account.email == email)).one_or_none()
    if account is not None and account.verified_at is not None:
        mailer.send(
            email,
            "Your Atelier account",
            "Someone tried to sign up with this address, which already has an account.\n"
            "If it was you, log in instead. If not, nothing has changed.\n",
        )
        return
    if account is None:
        # The password is set when the address is verified, from the token (see AccountToken).
        account = Account(email=email, password_hash=_dummy_hash())
        session.add(account)
        session.flush()
    token = _one_time(session, account, "verify", password_hash=hashed)
    mailer.send(
        email,
        "Confirm your Atelier account",
        "Confirm this address to activate your account (valid 24 hours):\n\n"
        f"{public_url}/verify?token={token}\n\n"
        f'or POST /v1/auth/verify with {{"token": "{token}"}}\n',
    )


def verify_email(session: Session, token: str) -> Account:
    """Activates the account with the password chosen at the sign-up this token came from;
    every other pending sign-up link for the address dies, and waiting invitations apply."""
    now = utcnow()
    row = session.scalars(
        select(AccountToken)
        .where(AccountToken.token_hash == digest(token), AccountToken.purpose == "verify")
        .with_for_update()
    ).one_or_none()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise InvalidInput("this verification link is unknown, used or expired; sign up again")
    account = session.get(Account, row.account_id)
    assert account is not None  # noqa: S101 - a foreign key guarantees it
    account.password_hash = row.password_hash or account.password_hash
    account.verified_at = account.verified_at or now
    session.execute(
        update(AccountToken)
        .where(AccountToken.account_id == account.id, AccountToken.used_at.is_(None))
        .values(used_at=now)
    )
    for invitation in session.scalars(
        select(Invitation).where(
            Invitation.email == account.email, Invitation.accepted_at.is_(None)
        )
    ):
        grant(session, invitation.organisation_id, account.id, invitation.role)
        invitation.accepted_at = now
    session.flush()
    return account


def grant(session: Session, organisation_id: str, account_id: str, role: str) -> Role:
    """Gives a role, or changes it; one row per account and organisation."""
    current = session.get(Role, (organisation_id, account_id))
    if current is None:
        current = Role(organisation_id=organisation_id, account_id=account_id, role=role)
        session.add(current)
    elif current.role != role:
        current.role = role
    return current


class NewSession(msgspec.Struct, kw_only=True):
    token: str
    expires_at: datetime
    csrf_token: str | None = None


def login(
    session: Session,
    email: str,
    password: str,
    *,
    hours: int,
    cookie: bool = False,
    ip: str | None = None,
) -> NewSession:
    try:
        email = normalise_email(email)
    except InvalidInput:
        email = ""
    account = (
        session.scalars(select(Account).where(Account.email == email)).one_or_none()
        if email
        else None
    )
    expected = account.password_hash if account else _dummy_hash()
    if account is not None and account.verified_at is None:
        # Not verified yet: the password waits in the newest sign-up token. Matching it earns
        # a precise hint; anything else is the usual refusal.
        expected = (
            session.scalars(
                select(AccountToken.password_hash)
                .where(
                    AccountToken.account_id == account.id,
                    AccountToken.used_at.is_(None),
                    AccountToken.expires_at > utcnow(),
                )
                .order_by(AccountToken.created_at.desc())
                .limit(1)
            ).first()
            or _dummy_hash()
        )
    try:
        # Longer than any accepted password: cannot match (and is not cut to a prefix that
        # might), but costs the same check so the answer time says nothing.
        HASHER.verify(expected, password if len(password) <= MAX_PASSWORD else "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        account = None
    if account is None or expected == _dummy_hash():
        raise Unauthorized("wrong email or password")
    if account.verified_at is None:
        raise Forbidden("confirm your email address first (see the message we sent)")
    if account.disabled_at is not None:
        raise Forbidden("this account is disabled")
    if HASHER.check_needs_rehash(account.password_hash):
        account.password_hash = HASHER.hash(password)
    token = "ats_" + secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32) if cookie else None
    expires = utcnow() + timedelta(hours=hours)
    session.add(
        AuthSession(
            token_hash=digest(token),
            csrf_hash=digest(csrf) if csrf else None,
            account_id=account.id,
            expires_at=expires,
            ip=ip,
        )
    )
    session.flush()
    return NewSession(token=token, expires_at=expires, csrf_token=csrf)


def logout(session: Session, session_id: str) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def account_with_roles(session: Session, account_id: str) -> tuple[Account, list[Role]]:
    """An account and its roles, by organisation."""
    account = session.get(Account, account_id)
    if account is None:
        raise Unauthorized("this account no longer exists")
    roles = session.scalars(
        select(Role).where(Role.account_id == account_id).order_by(Role.organisation_id)
    )
    return account, list(roles)


def known_address(session: Session, email: str, address: str) -> bool:
    """Whether this account has logged in from this client address before."""
    stmt = (
        select(AuthSession.id)
        .join(Account, Account.id == AuthSession.account_id)
        .where(Account.email == email, AuthSession.ip == address)
        .limit(1)
    )
    return session.scalar(stmt) is not None
