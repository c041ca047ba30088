"""Wire types of issuers, attestations, declared claims and technicians."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from certifications.catalogue import IssuerKind, SchemeId
from directory.vocabulary import (
    Input,
    Name,
    ShortText,
    SiteId,
    Url,
)

# A compact JWS: three base64url parts; the signature may be empty in shape so that an unsigned
# token ("alg": "none") is refused for what it is (422 unsupported-alg), not as a typo.
CompactJws = Annotated[
    str,
    Meta(
        min_length=10,
        max_length=8192,
        pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$",
        description="a compact JWS (RFC 7515)",
    ),
]

Jwk = Annotated[dict[str, str], Meta(max_length=12)]


class Jwks(Input):
    keys: Annotated[list[Jwk], Meta(min_length=1, max_length=10)]


class IssuerCreate(Input):
    name: Name
    kind: IssuerKind
    schemes: Annotated[list[SchemeId], Meta(min_length=1, max_length=200)]
    jwks: Jwks


class IssuerOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    status: str
    schemes: list[str]
    jwks_url: str
    created_at: datetime
    updated_at: datetime


class TokenIn(Input):
    token: CompactJws


class AttestationOut(msgspec.Struct, kw_only=True):
    jti: str
    issuer: str
    subject: str
    holder: str
    scheme: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    evidence: str | None
    status: str
    revoked_at: datetime | None
    token: str
    revocation_token: str | None


class ClaimIn(Input):
    scheme: SchemeId
    evidence_url: Url | None = None


class ClaimOut(msgspec.Struct, kw_only=True):
    id: str
    site_id: str
    scheme: str
    evidence_url: str | None
    created_at: datetime
    status: str = "declared"  # a claim is never verified: an issuer's attestation is


class TechnicianCreate(Input):
    display_name: ShortText


class TechnicianPatch(Input):
    display_name: ShortText | UnsetType = UNSET
    site_id: SiteId | UnsetType = UNSET


class TechnicianOut(msgspec.Struct, kw_only=True):
    id: str
    site_id: str
    display_name: str
    created_at: datetime
    updated_at: datetime
    version: int


class SchemeNames(msgspec.Struct):
    fr: str
    en: str


class SchemeOut(msgspec.Struct, kw_only=True):
    """A scheme of the catalogue as published: lists where the catalogue keeps tuples (the
    OpenAPI schema of a tuple of constrained strings came out as an unsatisfiable oneOf)."""

    id: str
    name: SchemeNames
    domain: str
    level: int
    implies: list[str]
    holder: str
    default_validity_days: int | None
    jurisdictions: list[str]
    issuer_kinds: list[str]
    basis: str


class JobOut(msgspec.Struct, kw_only=True):
    """A repair job in plain words, and the competences any one of which does it."""

    id: str
    domain: str
    name: SchemeNames
    competences: list[str]


class JobList(msgspec.Struct, kw_only=True):
    items: list[JobOut]
