"""`atelier sync`, `atelier reindex` and `atelier outbox …`: the outbox → index worker as its own
process, a full rebuild swapped in atomically, and the events set aside for an operator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy import func, select

from certifications.catalogue import default_catalogue
from directory.app import connect_engine
from directory.cli.base import Context, fail_readably, pass_ctx, progress
from directory.db import transaction, upgrade
from directory.models import Site
from directory.outbox.sync import (
    SyncWorker,
    list_parked,
    reindex,
    replay_parked,
    run_once,
)
from search.index import IndexWriter


@contextmanager
def _index_writer(ctx: Context) -> Iterator[IndexWriter]:
    """A writer on the engine the settings name (the managed one is started, then stopped)."""
    url, keys, process = connect_engine(ctx.settings)
    if process is not None:
        process.supervise()  # `atelier sync` runs for days: its engine is restarted if it dies
    try:
        yield IndexWriter(url, keys.write)
    finally:
        if process is not None:
            process.stop()


@click.command("sync")
@click.option("--once", is_flag=True, help="Drain the outbox once and exit.")
@pass_ctx
@fail_readably
def sync_cmd(ctx: Context, once: bool) -> None:
    """Feed the index from the outbox (run several side by side on PostgreSQL)."""
    upgrade(ctx.settings.database_url)
    sessions = ctx.sessions()
    with _index_writer(ctx) as writer:
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


@click.command("reindex")
@pass_ctx
@fail_readably
def reindex_cmd(ctx: Context) -> None:
    """Build a fresh index from the record and swap it in atomically."""
    upgrade(ctx.settings.database_url)
    sessions = ctx.sessions()
    with _index_writer(ctx) as writer:
        with transaction(sessions) as session:
            total = session.scalar(
                select(func.count()).select_from(Site).where(Site.status != "closed")
            )
        with progress() as bar:
            task = bar.add_task("reindexing", total=total)
            count = reindex(
                sessions, writer, default_catalogue(), on_progress=lambda n: bar.advance(task, n)
            )
    click.echo(f"reindexed {count} sites")


@click.group("outbox")
def outbox_group() -> None:
    """Events the index worker set aside (documents the engine refused): list and replay."""


@outbox_group.command("list")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@pass_ctx
def outbox_list(ctx: Context, limit: int) -> None:
    """One line per parked event: id, entity, op, attempts, when parked, why."""
    with transaction(ctx.sessions()) as session:
        rows = list_parked(session, limit)
        for e in rows:
            reason = (e.last_error or "").replace("\n", " ")[:200]
            click.echo(
                f"{e.id}\t{e.entity}\t{e.entity_id}\t{e.op}\t{e.attempts}\t"
                f"{e.parked_at:%Y-%m-%d %H:%M:%S}\t{reason}"
            )
        if not rows:
            click.echo("no parked events", err=True)


@outbox_group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "everything", is_flag=True, help="Replay every parked event.")
@pass_ctx
@fail_readably
def outbox_replay(ctx: Context, ids: tuple[int, ...], everything: bool) -> None:
    """Put parked events (IDS, or --all) back in line for the index worker."""
    if not ids and not everything:
        raise click.UsageError("name the events to replay, or pass --all")
    with transaction(ctx.sessions()) as session:
        count = replay_parked(session, None if everything else ids)
    click.echo(f"replayed {count} events")
