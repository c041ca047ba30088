"""`atelier sync` and `atelier reindex`: the outbox → index worker as its own process, and a
full rebuild swapped in atomically."""

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
from directory.outbox.sync import SyncWorker, reindex, run_once
from search.index import IndexWriter


@contextmanager
def _index_writer(ctx: Context) -> Iterator[IndexWriter]:
    """A writer on the engine the settings name (the managed one is started, then stopped)."""
    url, keys, process = connect_engine(ctx.settings)
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
