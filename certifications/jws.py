"""Compact JWS with EdDSA (Ed25519) only, and Ed25519 keys as JWK (RFC 7515, 8037).

Written here rather than taken from a general JOSE library because the rules we need are few and
must be strict: one algorithm, no "none", no HMAC, no embedded keys (jwk/jku/x5u) and no "crit".
The signature primitive itself is the cryptography package's.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "JWSError",
    "b64url_decode",
    "b64url_encode",
    "generate_jwk",
    "parse",
    "public_jwk",
    "sign",
    "verify_signature",
]

MAX_TOKEN = 8192
ALLOWED_HEADER = {"alg", "kid", "typ"}


class JWSError(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    if not text or any(c not in _B64 for c in text) or len(text) % 4 == 1:
        raise JWSError("malformed", "not base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as err:
        raise JWSError("malformed", "not base64url") from err
    if b64url_encode(raw) != text:  # reject non-canonical encodings (trailing bits set)
        raise JWSError("malformed", "non-canonical base64url")
    return raw


_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JWSError("malformed", f"the {what} is not JSON") from err
    if not isinstance(value, dict):
        raise JWSError("malformed", f"the {what} is not a JSON object")
    return value


def generate_jwk(kid: str | None = None) -> dict[str, str]:
    """A new private Ed25519 JWK (with its public part and a key id)."""
    key = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization as ser

    d = key.private_bytes(ser.Encoding.Raw, ser.PrivateFormat.Raw, ser.NoEncryption())
    x = key.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": kid or "k_" + secrets.token_hex(8),
        "x": b64url_encode(x),
        "d": b64url_encode(d),
    }


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
    header = {"alg": "EdDSA", "kid": private["kid"], "typ": "JWT"}
    signing_input = (
        b64url_encode(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url_encode(json.dumps(payload, separators=(",", ":")).encode())
    )
    key = Ed25519PrivateKey.from_private_bytes(b64url_decode(private["d"]))
    return signing_input + "." + b64url_encode(key.sign(signing_input.encode()))


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, payload, signing input and signature of a compact JWS, checked for shape only."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise JWSError("malformed", f"a token is a string of at most {MAX_TOKEN} characters")
    parts = token.split(".")
    if len(parts) != 3:
        raise JWSError("malformed", "a compact JWS has three dot-separated parts")
    header = _json_object(b64url_decode(parts[0]), "header")
    if header.get("alg") != "EdDSA":
        raise JWSError("unsupported-alg", f"alg must be EdDSA, got {header.get('alg')!r}")
    extra = set(header) - ALLOWED_HEADER
    if extra:
        # crit, jwk, jku, x5u … would let a token choose how it is checked: never.
        raise JWSError("malformed", f"header parameters not accepted: {', '.join(sorted(extra))}")
    if not isinstance(header.get("kid"), str):
        raise JWSError("malformed", "the header needs a kid")
    payload = _json_object(b64url_decode(parts[1]), "payload")
    signature = b64url_decode(parts[2])
    if len(signature) != 64:
        raise JWSError("bad-signature", "an Ed25519 signature is 64 bytes")
    return header, payload, f"{parts[0]}.{parts[1]}".encode(), signature


def verify_signature(signing_input: bytes, signature: bytes, jwk: dict[str, Any]) -> None:
    key = Ed25519PublicKey.from_public_bytes(b64url_decode(public_jwk(jwk)["x"]))
    try:
        key.verify(signature, signing_input)
    except InvalidSignature as err:
        raise JWSError("bad-signature", "the signature does not match the issuer's key") from err
