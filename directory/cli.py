"""The `atelier` command: serve, migrate, import, manage keys; every one honours the environment."""

from __future__ import annotations

import getpass
import json
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import click
from meilisearch.errors import MeilisearchError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import func, select

from certifications import jws
from certifications.catalogue import ISSUER_KINDS, CatalogueError, default_catalogue
from directory import attestations as trust
from directory import demo as demo_data
from directory import importer
from directory.audit import Actor, acting_as
from directory.db import make_engine, make_sessionmaker, transaction, upgrade
from directory.errors import DomainError
from directory.logs import configure_logging
from directory.models import Issuer, Site
from directory.settings import Settings, SettingsError, load_settings
from directory.sync import SyncWorker, reindex, run_once
from search.engine import EngineError, MeiliProcess
from search.geocode import make_geocoder
from search.index import IndexError_, IndexWriter, Keys, ensure_keys, ensure_settings

log = logging.getLogger("atelier.cli")


class Context:
    def __init__(self) -> None:
        try:
            self.settings: Settings = load_settings()
        except SettingsError as err:
            raise click.ClickException(str(err)) from err
        configure_logging(self.settings.log_level)
        # Writes made from the command line are audited as the operator who ran it (for the
        # length of the command: the context is restored when click closes it).
        click.get_current_context().with_resource(
            acting_as(Actor(kind="cli", id=getpass.getuser()))
        )

    def sessions(self):
        return make_sessionmaker(make_engine(self.settings.database_url))


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _fail_readably(func):
    """Turn the errors a user can cause into a one-line message and exit status 1."""

    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (
            DomainError,
            EngineError,
            importer.RowError,
            OSError,
            IndexError_,
            CatalogueError,
            jws.JWSError,
        ) as err:
            raise click.ClickException(str(err)) from err

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Atelier: the open directory of qualified car repairers."""


# --- serve ----------------------------------------------------------------------------------------


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo dataset on first start.")
@pass_ctx
@_fail_readably
def serve(ctx: Context, demo: bool) -> None:
    """Run the API (and, unless MEILI_URL is set, a managed Meilisearch) until interrupted."""
    import uvicorn

    from directory.app import create_app

    settings = ctx.settings
    upgrade(settings.database_url)
    if demo:
        _load_demo(ctx, only_if_empty=True)
    engine_proc = None
    if settings.managed_meili:
        engine_proc = MeiliProcess(
            settings.data_dir, settings.meili_bin, settings.meili_master_key
        ).start()
    try:
        url = engine_proc.url if engine_proc else settings.meili_url
        assert url is not None  # noqa: S101 - managed, or MEILI_URL set
        try:
            keys: Keys | None = _engine_keys(settings, url, engine_proc)
            ensure_settings(url, keys.write)  # type: ignore[union-attr]
        except (IndexError_, MeilisearchError) as err:
            # The service still answers (searches from the database); with keys given, the
            # sync worker keeps retrying until the engine is back.
            log.warning("search engine unreachable at start-up", extra={"error": str(err)})
            keys = (
                Keys(search=settings.meili_search_key, write=settings.meili_write_key)
                if settings.meili_search_key and settings.meili_write_key
                else None
            )
        writer = (
            IndexWriter(url, keys.write)
            if keys is not None and settings.sync == "in-process"
            else None
        )
        app = create_app(
            settings, meili_url=url, search_key=keys.search if keys else None, writer=writer
        )
        log.info("serving", extra={"url": f"http://{settings.host}:{settings.port}"})
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            server_header=False,
            # uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 and rewrite the
            # client address before we see it; ATELIER_TRUSTED_PROXIES is the one rule for it.
            proxy_headers=False,
        )
    finally:
        if engine_proc is not None:
            engine_proc.stop()


def _engine_keys(settings: Settings, url: str, proc: MeiliProcess | None) -> Keys:
    """Search and write keys: given, or derived once from the master key (used only here)."""
    if settings.meili_search_key and settings.meili_write_key:
        return Keys(search=settings.meili_search_key, write=settings.meili_write_key)
    master = proc.master_key if proc else settings.meili_master_key
    if not master:
        raise click.ClickException("set MEILI_SEARCH_KEY and MEILI_WRITE_KEY, or MEILI_MASTER_KEY")
    return ensure_keys(url, master)


def _index_writer(ctx: Context) -> tuple[IndexWriter, MeiliProcess | None]:
    settings = ctx.settings
    proc = None
    if settings.managed_meili:
        proc = MeiliProcess(
            settings.data_dir, settings.meili_bin, settings.meili_master_key
        ).start()
    url = proc.url if proc else settings.meili_url
    assert url is not None  # noqa: S101
    keys = _engine_keys(settings, url, proc)
    ensure_settings(url, keys.write)
    return IndexWriter(url, keys.write), proc


@main.command("sync")
@click.option("--once", is_flag=True, help="Drain the outbox once and exit.")
@pass_ctx
@_fail_readably
def sync_cmd(ctx: Context, once: bool) -> None:
    """Feed the index from the outbox (run several side by side on PostgreSQL)."""
    upgrade(ctx.settings.database_url)
    writer, proc = _index_writer(ctx)
    sessions = ctx.sessions()
    try:
        if once:
            total = 0
            while handled := run_once(sessions, writer, default_catalogue()):
                total += handled
            click.echo(f"synced {total} events")
            return
        worker = SyncWorker(sessions, writer, default_catalogue()).start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            worker.stop()
    finally:
        if proc is not None:
            proc.stop()


@main.command("reindex")
@pass_ctx
@_fail_readably
def reindex_cmd(ctx: Context) -> None:
    """Build a fresh index from the record and swap it in atomically."""
    upgrade(ctx.settings.database_url)
    writer, proc = _index_writer(ctx)
    try:
        sessions = ctx.sessions()
        with transaction(sessions) as session:
            total = session.scalar(
                select(func.count()).select_from(Site).where(Site.status != "closed")
            )
        with _progress() as bar:
            task = bar.add_task("reindexing", total=total)
            count = reindex(
                sessions, writer, default_catalogue(), on_progress=lambda n: bar.advance(task, n)
            )
        click.echo(f"reindexed {count} sites")
    finally:
        if proc is not None:
            proc.stop()


# --- db -------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(ctx: Context, revision: str) -> None:
    """Bring the database schema up to REVISION (default: head)."""
    upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {revision}")


# --- import ---------------------------------------------------------------------------------------


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=None,
        transient=False,
        disable=not sys.stderr.isatty(),
    )


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Where the rows come from (default: the file name).")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every rejected row and its reason to this CSV file.",
)
@pass_ctx
@_fail_readably
def import_(ctx: Context, file: Path, source: str | None, report: Path | None) -> None:
    """Import sites from a CSV, GeoJSON or JSON Lines FILE (idempotent)."""
    upgrade(ctx.settings.database_url)
    geocoder = make_geocoder(ctx.settings.geocoder, ctx.settings.geocoder_user_agent)
    total = importer.count_rows(file)
    with _progress() as bar:
        task = bar.add_task(f"importing {file.name}", total=total)
        result = importer.import_file(
            ctx.sessions(), geocoder, file, source, on_rows=lambda n: bar.advance(task, n)
        )
    for rej in result.rejected[:20]:
        click.echo(f"row {rej.row} ({rej.external_id or 'no id'}): {rej.reason}", err=True)
    if len(result.rejected) > 20:
        click.echo(
            f"… and {len(result.rejected) - 20} more rejected rows"
            + ("" if report else " (use --report FILE for all)"),
            err=True,
        )
    if report:
        importer.write_report(result, report)
    click.echo(result.summary())


# --- demo -----------------------------------------------------------------------------------------


def _load_demo(ctx: Context, only_if_empty: bool, count: int = 3000) -> None:
    sessions = ctx.sessions()
    with transaction(sessions) as session:
        present = session.scalar(
            select(func.count()).select_from(Site).where(Site.source == demo_data.SOURCE)
        )
    if only_if_empty and present:
        demo_data.load_competences(
            sessions, default_catalogue(), ctx.settings.data_dir / "demo-issuers"
        )
        return
    geocoder = make_geocoder("offline", ctx.settings.geocoder_user_agent)
    records = demo_data.generate(geocoder, count)  # type: ignore[arg-type]
    with _progress() as bar:
        task = bar.add_task("loading demo data", total=len(records))
        result = importer.import_rows(
            sessions,
            geocoder,
            importer.rows_from_records(records),
            demo_data.SOURCE,
            on_rows=lambda n: bar.advance(task, n),
        )
    log.info("demo data loaded", extra={"summary": result.summary()})
    attested = demo_data.load_competences(
        sessions, default_catalogue(), ctx.settings.data_dir / "demo-issuers"
    )
    log.info("demo competences attested", extra={"attestations": attested})


@main.command("demo")
@click.option("--count", default=3000, show_default=True, type=click.IntRange(1, 200_000))
@pass_ctx
@_fail_readably
def demo(ctx: Context, count: int) -> None:
    """Load (or refresh) the demo dataset, clearly marked as demo."""
    upgrade(ctx.settings.database_url)
    _load_demo(ctx, only_if_empty=False, count=count)
    click.echo(f"demo dataset of {count} sites loaded")


# --- issuers and attestations -------------------------------------------------------------------


@main.group("issuers")
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
@_fail_readably
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
@_fail_readably
def issuers_trust(ctx: Context, issuer_id: str) -> None:
    """Trust an issuer: its attestations are accepted and count."""
    _set_status(ctx, issuer_id, "trusted")


@issuers_group.command("suspend")
@click.argument("issuer_id")
@pass_ctx
@_fail_readably
def issuers_suspend(ctx: Context, issuer_id: str) -> None:
    """Suspend an issuer: its attestations stop counting at once."""
    _set_status(ctx, issuer_id, "suspended")


@issuers_group.command("rotate")
@click.argument("issuer_id")
@click.option("--jwk", "jwk_path", required=True, type=click.Path(exists=True, path_type=Path))
@pass_ctx
@_fail_readably
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


@main.group("attest")
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


@main.command("sweep")
@pass_ctx
def sweep(ctx: Context) -> None:
    """Record the attestations that expired (the service does this every minute by itself)."""
    with transaction(ctx.sessions()) as session:
        click.echo(f"recorded {trust.sweep_expiries(session)} expiries")


# The access commands (keys, listing claims) live in their own module; importing it registers
# them on `main`. Last, so everything they take from here is defined.
from directory import cli_access  # noqa: E402, F401
