"""Attestations: an issuer's signed statement that a site or a technician holds a scheme.

Verification is pure: the caller passes the issuer as a plain Struct (its status, kind, schemes
and keys) and the instant; replay and revocation are the record's business (``directory``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from certifications import jws
from certifications.catalogue import Catalogue

__all__ = [
    "AttestationClaims",
    "IssuerKey",
    "IssuerView",
    "Refused",
    "RevocationClaims",
    "Verified",
    "holder_of",
    "reverify",
    "verify_attestation",
    "verify_revocation",
]

LEEWAY_S = 60  # clock skew we tolerate between an issuer and us
Epoch = Annotated[int, Meta(ge=0, le=32503680000)]  # seconds, up to year 3000
Jti = Annotated[str, Meta(min_length=8, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]


class Refused(Exception):
    """Why a token was refused: a stable ``code`` for machines and a sentence for people."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class AttestationClaims(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    iss: Annotated[str, Meta(max_length=40)]
    sub: Annotated[str, Meta(max_length=40)]
    scheme: Annotated[str, Meta(max_length=80)]
    iat: Epoch
    nbf: Epoch
    exp: Epoch
    jti: Jti
    evidence: Annotated[str, Meta(max_length=2048)] | None = None


class RevocationClaims(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    iss: Annotated[str, Meta(max_length=40)]
    revokes: Jti
    iat: Epoch
    jti: Jti | None = None
    reason: Annotated[str, Meta(max_length=500)] | None = None


class IssuerKey(msgspec.Struct, frozen=True):
    kid: str
    jwk: dict[str, Any]
    retired_at: datetime | None = None


class IssuerView(msgspec.Struct, frozen=True):
    id: str
    kind: str
    status: Literal["pending", "trusted", "suspended"]
    schemes: tuple[str, ...]
    keys: tuple[IssuerKey, ...]


class Verified(msgspec.Struct, frozen=True):
    claims: AttestationClaims
    kid: str
    holder: Literal["person", "site"]


def holder_of(subject_id: str) -> Literal["person", "site"] | None:
    """Sites are ``st_…``, technicians (persons) ``tc_…``."""
    if subject_id.startswith("st_"):
        return "site"
    if subject_id.startswith("tc_"):
        return "person"
    return None


def _instant(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _checked_signature(
    token: str,
    issuers: Callable[[str], IssuerView | None],
) -> tuple[dict[str, Any], IssuerView, IssuerKey]:
    try:
        compact = jws.parse(token)
    except jws.JWSError as err:
        raise Refused(err.code, err.detail) from err
    header, payload = compact.header, compact.payload
    iss = payload.get("iss")
    issuer = issuers(iss) if isinstance(iss, str) else None
    if issuer is None:
        raise Refused("unknown-issuer", f"no issuer {iss!r} is registered")
    key = next((k for k in issuer.keys if k.kid == header["kid"]), None)
    if key is None:
        raise Refused("unknown-key", f"issuer {issuer.id} has no key {header['kid']!r}")
    try:
        jws.verify(compact, key.jwk)
    except jws.JWSError as err:
        raise Refused(err.code, err.detail) from err
    return payload, issuer, key


def _check_key(key: IssuerKey, now: datetime) -> None:
    """A retired key signs nothing that reaches us after its retirement. Judged by when the
    token arrives, never by the ``iat`` it carries: the signer writes ``iat``, so whoever holds a
    leaked key could backdate it to before the rotation. What a key signed and we stored before
    it was retired stays valid (and re-verifiable against the published keys)."""
    if key.retired_at is not None and now >= key.retired_at:
        raise Refused("key-retired", f"key {key.kid} was retired at {key.retired_at.isoformat()}")


def _check_signer(issuer: IssuerView, key: IssuerKey, now: datetime) -> None:
    if issuer.status != "trusted":
        raise Refused(f"issuer-{issuer.status}", f"issuer {issuer.id} is {issuer.status}")
    _check_key(key, now)


def verify_attestation(
    token: str,
    issuers: Callable[[str], IssuerView | None],
    catalogue: Catalogue,
    now: datetime,
) -> Verified:
    """Signature, issuer trust and rights, scheme, holder kind and dates; or Refused."""
    payload, issuer, key = _checked_signature(token, issuers)
    try:
        claims = msgspec.convert(payload, AttestationClaims)
    except msgspec.ValidationError as err:
        raise Refused("malformed", f"payload: {err}") from err
    _check_signer(issuer, key, now)
    scheme = catalogue.get(claims.scheme)
    if scheme is None:
        raise Refused("unknown-scheme", f"{claims.scheme!r} is not in the catalogue")
    if claims.scheme not in issuer.schemes or issuer.kind not in scheme.issuer_kinds:
        raise Refused(
            "scheme-not-allowed", f"issuer {issuer.id} is not trusted to attest {claims.scheme}"
        )
    holder = holder_of(claims.sub)
    if holder != scheme.holder:
        wanted = "a technician (tc_…)" if scheme.holder == "person" else "a site (st_…)"
        raise Refused("wrong-holder", f"{claims.scheme} is held by {wanted}, not {claims.sub!r}")
    stamp = now.timestamp()
    # Validity may start before the signature: a habilitation granted last month and attested
    # today is the common case for a back-office digitising certificates after the training.
    if not (claims.nbf < claims.exp and claims.iat < claims.exp):
        raise Refused("malformed", "dates must satisfy nbf < exp and iat < exp")
    if claims.iat > stamp + LEEWAY_S:
        raise Refused("issued-in-future", "iat is in the future")
    if claims.nbf > stamp + LEEWAY_S:
        raise Refused("not-yet-valid", f"valid from {_instant(claims.nbf).isoformat()}")
    if claims.exp <= stamp:
        raise Refused("expired", f"expired at {_instant(claims.exp).isoformat()}")
    return Verified(claims=claims, kid=key.kid, holder=holder)


def verify_revocation(
    token: str, issuers: Callable[[str], IssuerView | None], now: datetime
) -> RevocationClaims:
    payload, issuer, key = _checked_signature(token, issuers)
    try:
        claims = msgspec.convert(payload, RevocationClaims)
    except msgspec.ValidationError as err:
        raise Refused("malformed", f"payload: {err}") from err
    # A suspended issuer may still withdraw what it said: revoking only ever removes trust. A
    # retired key may not: its holder could be whoever leaked it.
    _check_key(key, now)
    if claims.iat > now.timestamp() + LEEWAY_S:
        raise Refused("issued-in-future", "iat is in the future")
    return claims


def reverify(token: str, jwks: list[dict[str, Any]]) -> AttestationClaims:
    """Anyone's check of a stored token against an issuer's published keys (signature only)."""
    compact = jws.parse(token)
    kid = compact.header["kid"]
    key = next((k for k in jwks if k.get("kid") == kid), None)
    if key is None:
        raise jws.JWSError("unknown-key", f"no published key {kid!r}")
    jws.verify(compact, key)
    return msgspec.convert(compact.payload, AttestationClaims)
