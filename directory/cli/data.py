"""`atelier db`, `atelier import` and `atelier demo`: the schema and the data it holds."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from sqlalchemy import func, select

from certifications.catalogue import default_catalogue
from directory.cli.base import Context, fail_readably, pass_ctx, progress
from directory.db import transaction, upgrade
from directory.models import Site
from directory.profiles import demo as demo_data
from directory.profiles import importer
from search.geocode import make_geocoder

__all__ = ["db", "demo", "import_", "load_demo"]

log = logging.getLogger("atelier.cli")


@click.group()
def db() -> None:
    """Schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@pass_ctx
def db_upgrade(ctx: Context, revision: str) -> None:
    """Bring the database schema up to REVISION (default: head)."""
    upgrade(ctx.settings.database_url, revision)
    click.echo(f"database at {revision}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", help="Where the rows come from (default: the file name).")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every rejected row and its reason to this CSV file.",
)
@pass_ctx
@fail_readably
def import_(ctx: Context, file: Path, source: str | None, report: Path | None) -> None:
    """Import sites from a CSV, GeoJSON or JSON Lines FILE (idempotent)."""
    upgrade(ctx.settings.database_url)
    geocoder = make_geocoder(ctx.settings.geocoder, ctx.settings.geocoder_user_agent)
    total = importer.count_rows(file)
    with progress() as bar:
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
    for left in result.left_out[:20]:
        click.echo(
            f"row {left.row} ({left.external_id or 'no id'}): imported without {left.field}: "
            f"{left.reason}",
            err=True,
        )
    if report:
        importer.write_report(result, report)
    click.echo(result.summary())


def load_demo(ctx: Context, only_if_empty: bool, count: int = 3000) -> None:
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
    with progress() as bar:
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


@click.command("demo")
@click.option("--count", default=3000, show_default=True, type=click.IntRange(1, 200_000))
@pass_ctx
@fail_readably
def demo(ctx: Context, count: int) -> None:
    """Load (or refresh) the demo dataset, clearly marked as demo."""
    upgrade(ctx.settings.database_url)
    load_demo(ctx, only_if_empty=False, count=count)
    click.echo(f"demo dataset of {count} sites loaded")
