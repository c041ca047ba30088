"""`atelier serve`: the service, as create_app builds it, under uvicorn."""

from __future__ import annotations

import logging

import click

from directory.cli.base import Context, fail_readably, pass_ctx
from directory.cli.data import load_demo
from directory.db import upgrade

log = logging.getLogger("atelier.cli")


@click.command()
@click.option("--demo", is_flag=True, help="Load the demo dataset on first start.")
@pass_ctx
@fail_readably
def serve(ctx: Context, demo: bool) -> None:
    """Run the API (and, unless MEILI_URL is set, a managed Meilisearch) until interrupted."""
    import uvicorn

    from directory.app import create_app

    settings = ctx.settings
    upgrade(settings.database_url)
    if demo:
        load_demo(ctx, only_if_empty=True)
    app = create_app(settings)  # starts the managed engine; the app's shutdown stops it
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
