"""`atelier issuers …`, `atelier attest …` and `atelier sweep`: certification issuers, their
keys and signed attestations."""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from certifications import jws
from certifications.catalogue import ISSUER_KINDS, default_catalogue
from directory.cli.base import Context, fail_readably, pass_ctx
from directory.db import transaction, upgrade
from directory.models import Issuer
from directory.trust import service as trust

__all__ = ["attest_group", "issuers_group", "sweep"]


@click.group("issuers")
def issuers_group() -> None:
    """Certification issuers: register, trust, suspend, rotate keys; make keys for an issuer."""


@issuers_group.command("keygen")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (JWK, readable by you only).",
)
@click.option("--kid", help="Key id (default: random).")
def issuers_keygen(out: Path, kid: str | None) -> None:
    """Write a new private Ed25519 JWK to OUT and print its public JWK."""
    if out.exists():
        raise click.ClickException(f"{out} exists: refusing to overwrite a private key")
    private = jws.generate_jwk(kid)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(private, fh)
    click.echo(json.dumps(jws.public_jwk(private)))


def _read_jwks(path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise click.ClickException(f"{path}: not a JSON key file ({err})") from err
    keys = doc.get("keys", [doc]) if isinstance(doc, dict) else []
    # Only the public half is ever sent to the registry, even if a private file was named.
    return [jws.public_jwk(k) for k in keys]


@issuers_group.command("add")
@click.option("--name", required=True)
@click.option("--kind", required=True, type=click.Choice(ISSUER_KINDS))
@click.option("--scheme", "schemes", multiple=True, required=True)
@click.option(
    "--jwk",
    "jwk_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="A public JWK, or a JWKS ({'keys': [...]}).",
)
@pass_ctx
@fail_readably
def issuers_add(
    ctx: Context, name: str, kind: str, schemes: tuple[str, ...], jwk_path: Path
) -> None:
    """Register an issuer (pending until trusted); prints its id on the last line."""
    upgrade(ctx.settings.database_url)
    with transaction(ctx.sessions()) as session:
        issuer = trust.create_issuer(
            session,
            default_catalogue(),
            name=name,
            kind=kind,
            schemes=list(schemes),
            jwks=_read_jwks(jwk_path),
        )
        click.echo(f"registered {issuer.name} ({issuer.kind}), status {issuer.status}", err=True)
        click.echo(issuer.id)


def _set_status(ctx: Context, issuer_id: str, status: str) -> None:
    with transaction(ctx.sessions()) as session:
        issuer = trust.set_issuer_status(session, issuer_id, status)
        click.echo(f"{issuer.id} ({issuer.name}) is now {issuer.status}")


@issuers_group.command("trust")
@click.argument("issuer_id")
@pass_ctx
@fail_readably
def issuers_trust(ctx: Context, issuer_id: str) -> None:
    """Trust an issuer: its attestations are accepted and count."""
    _set_status(ctx, issuer_id, "trusted")


@issuers_group.command("suspend")
@click.argument("issuer_id")
@pass_ctx
@fail_readably
def issuers_suspend(ctx: Context, issuer_id: str) -> None:
    """Suspend an issuer: its attestations stop counting at once."""
    _set_status(ctx, issuer_id, "suspended")


@issuers_group.command("rotate")
@click.argument("issuer_id")
@click.option("--jwk", "jwk_path", required=True, type=click.Path(exists=True, path_type=Path))
@pass_ctx
@fail_readably
def issuers_rotate(ctx: Context, issuer_id: str, jwk_path: Path) -> None:
    """Add a new key and retire the others (they stay published for old attestations)."""
    (key,) = _read_jwks(jwk_path)
    with transaction(ctx.sessions()) as session:
        issuer = trust.add_issuer_key(session, issuer_id, key)
        click.echo(f"{issuer.id} now signs with {key['kid']}")


@issuers_group.command("list")
@pass_ctx
def issuers_list(ctx: Context) -> None:
    """List issuers with their status and schemes."""
    with transaction(ctx.sessions()) as session:
        for issuer in session.scalars(select(Issuer).order_by(Issuer.created_at)):
            click.echo(
                f"{issuer.id}\t{issuer.status}\t{issuer.kind}\t{issuer.name}\t"
                f"{','.join(issuer.schemes)}"
            )


@click.group("attest")
def attest_group() -> None:
    """Sign attestations and revocations with an issuer's private key (issuers' tooling)."""


def _private_key(path: Path) -> dict[str, Any]:
    try:
        key = json.loads(path.read_text())
        jws.public_jwk(key)
    except (OSError, json.JSONDecodeError, jws.JWSError) as err:
        raise click.ClickException(f"{path}: not an Ed25519 private JWK ({err})") from err
    if "d" not in key:
        raise click.ClickException(f"{path} holds a public key: signing needs the private one")
    return dict(key)


@attest_group.command("sign")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--iss", required=True, help="The issuer's id (is_…).")
@click.option("--sub", required=True, help="A site (st_…) or technician (tc_…) id.")
@click.option("--scheme", required=True)
@click.option("--days", required=True, type=click.IntRange(1, 3660))
@click.option("--evidence", help="A URL or reference to the evidence (certificate number).")
def attest_sign(
    key_path: Path, iss: str, sub: str, scheme: str, days: int, evidence: str | None
) -> None:
    """Print a compact JWS attesting that SUB holds SCHEME for DAYS days from now."""
    if scheme not in default_catalogue():
        raise click.ClickException(f"{scheme!r} is not in the catalogue")
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": iss,
        "sub": sub,
        "scheme": scheme,
        "iat": now,
        "nbf": now,
        "exp": now + days * 86400,
        "jti": "att_" + secrets.token_hex(12),
    }
    if evidence:
        payload["evidence"] = evidence
    click.echo(jws.sign(payload, _private_key(key_path)))


@attest_group.command("revoke")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--iss", required=True)
@click.option("--jti", required=True, help="The attestation to revoke.")
def attest_revoke(key_path: Path, iss: str, jti: str) -> None:
    """Print a compact JWS revoking attestation JTI."""
    payload = {"iss": iss, "revokes": jti, "iat": int(time.time())}
    click.echo(jws.sign(payload, _private_key(key_path)))


@click.command("sweep")
@pass_ctx
def sweep(ctx: Context) -> None:
    """Record the attestations that expired (the service does this every minute by itself)."""
    with transaction(ctx.sessions()) as session:
        click.echo(f"recorded {trust.sweep_expiries(session)} expiries")
