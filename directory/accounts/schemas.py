"""Wire types of accounts, sessions, members and listing claims."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from directory.errors import explain_pattern
from directory.vocabulary import (
    FREE_TEXT,
    Input,
)

# Long enough for any passphrase the policy accepts, short enough to bound the hashing work.
Password = Annotated[str, Meta(min_length=1, max_length=1024)]
Token = Annotated[str, Meta(min_length=1, max_length=200)]
Role = Annotated[str, Meta(pattern=r"^(owner|editor)$")]
# An email address, one rule for the document and the check (service.normalise_email): a local
# part without spaces or control characters, an ASCII domain of letters, digits and hyphens
# (an internationalised domain is written in its xn-- form).
_LOCAL = "[^@\\s\\x00-\\x1f\\x7f-\\x9f\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069\\ufeff]"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = f"^{_LOCAL}{{1,64}}@{_LABEL}(?:\\.{_LABEL})+$"
Address = Annotated[str, Meta(max_length=254, pattern=ADDRESS)]
explain_pattern(ADDRESS, "not an email address")
Note = Annotated[str, Meta(max_length=2000, pattern=FREE_TEXT)]


class SignupIn(Input):
    email: Address
    # The policy's lengths (accounts.service.MIN_PASSWORD, MAX_PASSWORD); strength is checked
    # there too (zxcvbn), which no schema can say.
    password: Annotated[str, Meta(min_length=12, max_length=128)]


class VerifyIn(Input):
    token: Token


class LoginIn(Input):
    email: Address
    password: Password
    cookie: bool = False  # true: a session cookie plus a CSRF token, for the web pages


class LoginOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    expires_at: datetime
    token: str | None = None  # bearer sessions
    csrf_token: str | None = None  # cookie sessions: send it as X-CSRF-Token on every change


class MembershipOut(msgspec.Struct, kw_only=True):
    organisation_id: str
    role: str


class MeOut(msgspec.Struct, kw_only=True):
    id: str
    email: str
    created_at: datetime
    organisations: list[MembershipOut]


class MemberIn(Input):
    email: Address
    role: Role = "editor"


class MemberOut(msgspec.Struct, kw_only=True):
    account_id: str
    email: str
    role: str
    since: datetime


class MemberAdded(msgspec.Struct, kw_only=True):
    email: str
    role: str
    status: str  # "granted" (the account exists) or "invited" (granted once it verifies)


class ListingClaimIn(Input):
    __free_text__ = frozenset({"message"})
    message: Note | None = None


class DecisionIn(Input):
    __free_text__ = frozenset({"reason"})
    reason: Note | None = None


class ListingClaimOut(msgspec.Struct, kw_only=True):
    id: str
    organisation_id: str
    account_id: str
    status: str
    message: str | None
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None = None
    email: str | None = None  # shown to administrators only
