"""`atelier keys …` and `atelier claims …`: who may call the API, and who owns a listing."""

from __future__ import annotations

import getpass
from datetime import timedelta

import click

from directory.accounts import members
from directory.cli.base import Context, fail_readably, pass_ctx
from directory.db import transaction, upgrade, utcnow
from directory.gate import keys
from directory.mail import FolderMailer
from directory.models import Organisation

# --- keys -----------------------------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """API keys for integrations and administrators."""


@keys_group.command("create")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(keys.SCOPES))
@click.option("--name", required=True, help="Who the key is for.")
@click.option("--expires-days", type=click.IntRange(1, 3650), help="Expire after N days.")
@click.option(
    "--integration",
    help="Keys with the same integration share what it owns (its private networks), so a "
    "key can be replaced without losing them. Default: the key stands alone.",
)
@pass_ctx
@fail_readably
def keys_create(
    ctx: Context,
    scopes: tuple[str, ...],
    name: str,
    expires_days: int | None,
    integration: str | None,
) -> None:
    """Create a key; its secret is printed once, on the last line, and never stored."""
    upgrade(ctx.settings.database_url)
    expires = utcnow() + timedelta(days=expires_days) if expires_days else None
    with transaction(ctx.sessions()) as session:
        key, secret = keys.create_key(session, name, scopes, expires, integration)
        click.echo(
            f"created key {key.prefix} ({key.name}; integration {key.integration}; "
            f"scopes: {', '.join(key.scopes)})",
            err=True,
        )
    click.echo(secret)


@keys_group.command("list")
@pass_ctx
def keys_list(ctx: Context) -> None:
    """List keys (prefix, name, scopes, state) — never their secrets."""
    with transaction(ctx.sessions()) as session:
        for key in keys.list_keys(session):
            state = (
                "revoked"
                if key.revoked_at
                else ("expired" if key.expires_at and key.expires_at <= utcnow() else "active")
            )
            click.echo(f"{key.prefix}\t{key.name}\t{','.join(key.scopes)}\t{state}")


@keys_group.command("revoke")
@click.argument("prefix")
@pass_ctx
@fail_readably
def keys_revoke(ctx: Context, prefix: str) -> None:
    """Revoke a key by its prefix; it stops working at once."""
    with transaction(ctx.sessions()) as session:
        key = keys.revoke_key(session, prefix)
        click.echo(f"revoked {key.prefix} ({key.name})")


# --- listing claims -------------------------------------------------------------------------------


@click.group("claims")
def claims_group() -> None:
    """Requests by repairers to own an existing listing: review, approve, reject."""


@claims_group.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "rejected", "all"]),
    default="pending",
    show_default=True,
)
@pass_ctx
def claims_list(ctx: Context, status: str) -> None:
    """One line per claim: id, organisation, requester's email, status, date, message."""
    with transaction(ctx.sessions()) as session:
        rows = members.list_listing_claims(session, None if status == "all" else status, 10_000)
        for claim, email in rows:
            org = session.get(Organisation, claim.organisation_id)
            name = (org.trade_name or org.legal_name) if org else "?"
            click.echo(
                f"{claim.id}\t{claim.organisation_id}\t{name}\t{email}\t{claim.status}\t"
                f"{claim.created_at:%Y-%m-%d %H:%M}\t{claim.message or ''}"
            )
        if not rows:
            click.echo(f"no {status} claims", err=True)


def _decide_claim(ctx: Context, claim_id: str, approve: bool, reason: str | None) -> None:
    with transaction(ctx.sessions()) as session:
        claim = members.decide_listing_claim(
            session,
            FolderMailer(ctx.settings.data_dir / "mail"),
            claim_id,
            approve,
            f"cli:{getpass.getuser()}",
            reason,
        )
        click.echo(f"{claim.id} {claim.status}: organisation {claim.organisation_id}")


@claims_group.command("approve")
@click.argument("claim_id")
@click.option("--reason", help="Sent to the requester.")
@pass_ctx
@fail_readably
def claims_approve(ctx: Context, claim_id: str, reason: str | None) -> None:
    """Approve: the requester becomes an owner of the organisation."""
    _decide_claim(ctx, claim_id, True, reason)


@claims_group.command("reject")
@click.argument("claim_id")
@click.option("--reason", help="Sent to the requester.")
@pass_ctx
@fail_readably
def claims_reject(ctx: Context, claim_id: str, reason: str | None) -> None:
    """Reject: nothing changes for the organisation; the requester is told."""
    _decide_claim(ctx, claim_id, False, reason)
