"""Attestation signatures: compact JWS signed with Ed25519 keys published as JWK (RFC 7515,
8037, 9864), parsed and verified by joserfc.

joserfc does the decoding (it refuses non-canonical base64url, oversized parts and "none") and the
signature check. On top we keep a narrow policy: one key type, two names for the one algorithm,
and no header parameter that would let a token choose how it is checked (jwk, jku, x5u, crit …).

Algorithm names: RFC 9864 (October 2025) deprecates the polymorphic ``EdDSA`` in favour of the
fully specified ``Ed25519``. Issuers have signed ``EdDSA`` since wave 1, so both are accepted;
our own tools sign ``Ed25519``. When ``EdDSA`` stops being accepted is a decision recorded in
docs/decisions.md, not a library default.
"""

from __future__ import annotations

import copy
import json
import secrets
from typing import Any, NamedTuple

from joserfc import jws as jose
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

__all__ = [
    "ALGORITHMS",
    "Compact",
    "JWSError",
    "b64url_decode",
    "b64url_encode",
    "generate_jwk",
    "parse",
    "public_jwk",
    "sign",
    "verify",
]

MAX_TOKEN = 8192
ALGORITHMS = ("Ed25519", "EdDSA")
SIGNING_ALGORITHM = "Ed25519"
ALLOWED_HEADER = {"alg", "kid", "typ"}


def _registry() -> jose.JWSRegistry:
    """joserfc's registry narrowed to our two names. joserfc warns on every ``EdDSA`` check; we
    accept that name knowingly (see above), and a warning per attestation would bury the ones
    that matter. A registry of our own, rather than a process-wide warnings filter, keeps that
    choice here and leaves every other warning alone."""
    registry = jose.JWSRegistry(algorithms=ALGORITHMS)
    legacy = copy.copy(registry.algorithms["EdDSA"])
    legacy.security_warning = None
    registry.algorithms = {**registry.algorithms, "EdDSA": legacy}
    return registry


_REGISTRY = _registry()


class JWSError(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class Compact(NamedTuple):
    """A compact JWS checked for shape and policy, not yet for its signature."""

    header: dict[str, Any]
    payload: dict[str, Any]
    token: jose.CompactSignature


def b64url_encode(raw: bytes) -> str:
    return urlsafe_b64encode(raw).decode()


def b64url_decode(text: str) -> bytes:
    try:
        return urlsafe_b64decode(text.encode())
    except (ValueError, TypeError) as err:  # binascii.Error is a ValueError
        raise JWSError("malformed", "not canonical base64url") from err


def generate_jwk(kid: str | None = None) -> dict[str, str]:
    """A new private Ed25519 JWK (with its public part and a key id)."""
    key = OKPKey.generate_key("Ed25519", private=True)
    jwk = {k: str(v) for k, v in key.as_dict(private=True).items() if k in {"kty", "crv", "x", "d"}}
    return {**jwk, "kid": kid or "k_" + secrets.token_hex(8)}


def public_jwk(jwk: dict[str, Any]) -> dict[str, str]:
    """The public half of a JWK, checked to be an Ed25519 key."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise JWSError("bad-key", "only Ed25519 keys (kty OKP, crv Ed25519) are accepted")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 1 <= len(kid) <= 64:
        raise JWSError("bad-key", "a key needs a kid of 1 to 64 characters")
    x = jwk.get("x")
    if not isinstance(x, str) or len(b64url_decode(x)) != 32:
        raise JWSError("bad-key", "x must be a 32-byte Ed25519 public key")
    return {"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": x}


def sign(payload: dict[str, Any], private: dict[str, Any]) -> str:
    header = {"alg": SIGNING_ALGORITHM, "kid": private["kid"], "typ": "JWT"}
    key = OKPKey.import_key({k: private[k] for k in ("kty", "crv", "x", "d")})
    body = json.dumps(payload, separators=(",", ":")).encode()
    return jose.serialize_compact(header, body, key, registry=_REGISTRY)


def parse(token: str) -> Compact:
    """A compact JWS checked for shape and for our header policy; the signature is not checked."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise JWSError("malformed", f"a token is a string of at most {MAX_TOKEN} characters")
    if token.count(".") != 2:
        raise JWSError("malformed", "a compact JWS has three dot-separated parts")
    try:
        compact = jose.extract_compact(token.encode(), registry=_REGISTRY)
    except (JoseError, ValueError, TypeError) as err:
        raise JWSError("malformed", f"not a compact JWS: {_reason(err)}") from err
    header = dict(compact.protected)
    if header.get("alg") not in ALGORITHMS:
        names = ", ".join(ALGORITHMS)
        raise JWSError("unsupported-alg", f"alg must be one of {names}, got {header.get('alg')!r}")
    extra = set(header) - ALLOWED_HEADER
    if extra:
        # crit, jwk, jku, x5u … would let a token choose how it is checked: never.
        raise JWSError("malformed", f"header parameters not accepted: {', '.join(sorted(extra))}")
    if not isinstance(header.get("kid"), str):
        raise JWSError("malformed", "the header needs a kid")
    try:
        payload = json.loads(compact.payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JWSError("malformed", "the payload is not JSON") from err
    if not isinstance(payload, dict):
        raise JWSError("malformed", "the payload is not a JSON object")
    return Compact(header, payload, compact)


def verify(compact: Compact, jwk: dict[str, Any]) -> None:
    """Raises unless ``compact`` is signed by the Ed25519 key ``jwk``."""
    published: dict[str, str | list[str]] = {**public_jwk(jwk)}
    key = OKPKey.import_key(published)
    try:
        valid = jose.validate_compact(compact.token, key, registry=_REGISTRY)
    except JoseError as err:
        raise JWSError("bad-signature", f"the signature cannot be checked: {_reason(err)}") from err
    if not valid:
        raise JWSError("bad-signature", "the signature does not match the issuer's key")


def _reason(err: Exception) -> str:
    return getattr(err, "description", None) or str(err) or type(err).__name__
