"""Opaque public ids: a type prefix and 80 random bits, so ids are never guessed or reused."""

import base64
import secrets

PREFIXES = {
    "organisation": "org",
    "site": "st",
    "technician": "tc",
    "network": "nw",
    "key": "key",
    "issuer": "is",
    "claim": "cl",
    "account": "acc",
    "session": "ses",
    "invitation": "inv",
    "listing_claim": "lc",
}


def new_id(kind: str) -> str:
    """A fresh id such as ``st_k3j9x2m4q8w1z7ab``; lowercase base32, URL-safe."""
    token = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return f"{PREFIXES[kind]}_{token}"
