"""create_app(): the composition root, where settings, database, geocoder and routes meet."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from anyio import to_thread
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from sqlalchemy import Engine

from certifications.catalogue import Catalogue, default_catalogue
from directory import (
    account_routes,
    attestations,
    health,
    integration_routes,
    metrics,
    network_routes,
    ratelimit,
    search_routes,
    trust_routes,
)
from directory.auth import gate
from directory.db import make_engine, make_sessionmaker, transaction
from directory.errors import exception_handlers
from directory.mail import FolderMailer
from directory.routes import OrganisationController, SiteController
from directory.settings import Settings
from directory.sync import SyncWorker
from search.geocode import Geocoder, default_gazetteer, make_geocoder
from search.index import IndexWriter
from search.searcher import MeiliSearcher

log = logging.getLogger("atelier.app")


async def _sweep_expiries(state: State, every_s: float) -> None:
    """Record expiries as they happen, so the change feed and the index hear of them."""
    while True:
        try:

            def sweep() -> int:
                with transaction(state.sessions) as session:
                    ratelimit.purge(session)  # full buckets say nothing: keep the table small
                    return attestations.sweep_expiries(session)

            if count := await to_thread.run_sync(sweep):
                log.info("expiries recorded", extra={"count": count})
        except Exception:  # noqa: BLE001 - a failed sweep is retried on the next tick
            log.exception("expiry sweep failed")
        await asyncio.sleep(every_s)


@asynccontextmanager
async def _background(app: Litestar) -> AsyncIterator[None]:
    state = app.state
    task = asyncio.create_task(_sweep_expiries(state, 60.0))
    worker = (
        SyncWorker(state.sessions, state.writer, state.catalogue).start()
        if state.writer is not None
        else None
    )
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        if worker is not None:
            await to_thread.run_sync(worker.stop)
        if state.searcher is not None:
            await state.searcher.close()


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    meili_url: str | None = None,
    search_key: str | None = None,
    writer: IndexWriter | None = None,
    geocoder: Geocoder | None = None,
    catalogue: Catalogue | None = None,
) -> Litestar:
    """The ASGI application. ``meili_url`` and ``search_key`` reach the index for searches;
    with a ``writer``, the sync worker runs inside this process (the embedded default)."""
    meili_url = meili_url or settings.meili_url
    engine = engine or make_engine(settings.database_url)
    state = State(
        {
            "settings": settings,
            "engine": engine,
            "sessions": make_sessionmaker(engine),
            "geocoder": geocoder or make_geocoder(settings.geocoder, settings.geocoder_user_agent),
            "meili_url": meili_url,
            "searcher": MeiliSearcher(meili_url, search_key) if meili_url and search_key else None,
            "writer": writer,
            "gazetteer": default_gazetteer(),
            "mailer": FolderMailer(settings.data_dir / "mail"),
            # This process's share of the rate limits kept in the database.
            "limiter": ratelimit.Limiter(),
            # Loaded and checked whole here: a broken catalogue stops the service at start-up.
            "catalogue": catalogue or default_catalogue(),
        }
    )
    return Litestar(
        route_handlers=[
            OrganisationController,
            SiteController,
            *trust_routes.route_handlers,
            *account_routes.route_handlers,
            *network_routes.route_handlers,
            search_routes.search,
            search_routes.search_batch,
            integration_routes.changes,
            integration_routes.audit,
            metrics.MetricsController,
            health.live,
            health.ready,
        ],
        state=state,
        exception_handlers=exception_handlers,
        middleware=[metrics.measure, gate],
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Atelier",
            version="1.0.0",
            description="The open directory of qualified car repairers.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        on_shutdown=[engine.dispose],
        lifespan=[_background],
        logging_config=None,  # keep the JSON logging the CLI configured
    )
