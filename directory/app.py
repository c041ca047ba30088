"""create_app(settings): the one composition root, where settings, the database, the search
engine (a managed process or a remote one), its keys, the index writer, the sync worker and the
routes meet. The CLI's `serve` calls it; tests call it with their own parts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from anyio import to_thread
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from sqlalchemy import Engine

from certifications.catalogue import Catalogue, default_catalogue
from certifications.jobs import load_jobs
from certifications.needs import load_needs
from directory.accounts import routes as account_routes
from directory.db import make_engine, transaction
from directory.errors import exception_handlers
from directory.gate import ratelimit
from directory.gate.auth import gate
from directory.http import (
    AtelierRequest,
    complete_methods,
    dependencies,
    refuse_malformed,
    secure_headers,
)
from directory.intents import routes as intent_routes
from directory.mail import FolderMailer
from directory.networks import routes as network_routes
from directory.ops import health, metrics
from directory.ops.openapi import complete_openapi
from directory.ops.reference import ApiReference, scalar_script
from directory.outbox import routes as outbox_routes
from directory.outbox.hooks import make_sessionmaker
from directory.outbox.sync import SyncWorker
from directory.profiles import routes as profile_routes
from directory.searching import routes as search_routes
from directory.services import Services
from directory.settings import Settings
from directory.trust import routes as trust_routes
from directory.trust.service import sweep_expiries
from directory.web import routes as web_routes
from search.engine import MeiliProcess
from search.errors import SearchEngineError
from search.geocode import Geocoder, default_gazetteer, make_geocoder
from search.index import IndexWriter, Keys, ensure_keys, ensure_settings
from search.searcher import MeiliSearcher

__all__ = ["connect_engine", "create_app"]

log = logging.getLogger("atelier.app")


def connect_engine(settings: Settings) -> tuple[str, Keys, MeiliProcess | None]:
    """The engine the settings name (started here when it is the managed one), its search and
    write keys (given, or derived once from the master key, which is used nowhere else), and
    its index settings applied. Raises SearchEngineError."""
    process = None
    if settings.managed_meili:
        process = MeiliProcess(settings.data_dir, settings.meili_bin, settings.meili_master_key)
        process.start()
    url = process.url if process else settings.meili_url
    assert url is not None  # noqa: S101 - managed, or MEILI_URL set
    try:
        if settings.meili_search_key and settings.meili_write_key:
            keys = Keys(search=settings.meili_search_key, write=settings.meili_write_key)
        else:
            master = process.master_key if process else settings.meili_master_key
            if not master:
                raise SearchEngineError(
                    "set MEILI_SEARCH_KEY and MEILI_WRITE_KEY, or MEILI_MASTER_KEY"
                )
            keys = ensure_keys(url, master)
        ensure_settings(url, keys.write)
    except BaseException:
        if process is not None:
            process.stop()
        raise
    return url, keys, process


def _search_parts(
    settings: Settings,
) -> tuple[str | None, str | None, IndexWriter | None, MeiliProcess | None]:
    """(url, search key, writer, managed process) for a service that runs on its settings. An
    engine that cannot be reached at start-up is no reason not to serve: searches answer from
    the database, and with keys given the sync worker retries until the engine is back."""
    process = None
    try:
        url, keys, process = connect_engine(settings)
    except SearchEngineError as err:
        if settings.managed_meili:
            raise  # our own engine would not start: a set-up problem to report, not to hide
        log.warning("search engine unreachable at start-up", extra={"error": str(err)})
        if not (settings.meili_url and settings.meili_search_key and settings.meili_write_key):
            return settings.meili_url, None, None, None
        url = settings.meili_url
        keys = Keys(search=settings.meili_search_key, write=settings.meili_write_key)
    writer = IndexWriter(url, keys.write) if settings.sync == "in-process" else None
    return url, keys.search, writer, process


async def _sweep_expiries(services: Services, every_s: float) -> None:
    """Record expiries as they happen, so the change feed and the index hear of them."""
    while True:
        try:

            def sweep() -> int:
                with transaction(services.sessions) as session:
                    ratelimit.purge(session)  # full buckets say nothing: keep the table small
                    return sweep_expiries(session)

            if count := await to_thread.run_sync(sweep):
                log.info("expiries recorded", extra={"count": count})
        except Exception:  # noqa: BLE001 - a failed sweep is retried on the next tick
            log.exception("expiry sweep failed")
        await asyncio.sleep(every_s)


def _lifespan(services: Services):  # noqa: ANN202
    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # One limit for every blocking call of the process: handlers, the gate, the sweep.
        to_thread.current_default_thread_limiter().total_tokens = services.settings.threads
        if services.meili_process is not None:
            services.meili_process.supervise()  # restarted with backoff if it dies
        task = asyncio.create_task(_sweep_expiries(services, 60.0))
        worker = (
            SyncWorker(services.sessions, services.writer, services.catalogue).start()
            if services.writer is not None
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
            with suppress(Exception):  # the anonymous reads admitted since the last flush
                await to_thread.run_sync(services.limiter.flush, services.sessions, time.time())
            if services.searcher is not None:
                await services.searcher.close()
            if services.meili_process is not None:
                await to_thread.run_sync(services.meili_process.stop)

    return lifespan


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
    """The ASGI application and everything it runs on. Without ``meili_url``, the engine is the
    one the settings name (the managed process by default), started and wired here; with it,
    the caller wires search itself: ``search_key`` for searches, a ``writer`` to run the sync
    worker in this process."""
    process = None
    if meili_url is None:
        meili_url, search_key, writer, process = _search_parts(settings)
    engine = engine or make_engine(settings.database_url, pool_size=settings.threads)
    services = Services(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        # Loaded and checked whole here: a broken catalogue stops the service at start-up.
        catalogue=catalogue or default_catalogue(),
        jobs=(jobs := load_jobs(catalogue=catalogue or default_catalogue())),
        needs=load_needs(catalogue=catalogue or default_catalogue(), jobs=jobs),
        geocoder=geocoder or make_geocoder(settings.geocoder, settings.geocoder_user_agent),
        gazetteer=default_gazetteer(),
        mailer=FolderMailer(settings.data_dir / "mail"),
        meili_url=meili_url,
        searcher=MeiliSearcher(meili_url, search_key) if meili_url and search_key else None,
        writer=writer,
        meili_process=process,
    )
    app = Litestar(
        route_handlers=[
            *profile_routes.route_handlers,
            *trust_routes.route_handlers,
            *account_routes.route_handlers,
            *network_routes.route_handlers,
            *search_routes.route_handlers,
            *intent_routes.route_handlers,
            *outbox_routes.route_handlers,
            metrics.MetricsController,
            health.live,
            health.ready,
            scalar_script,
            *web_routes.route_handlers,
        ],
        state=State({"services": services}),
        dependencies=dependencies,
        exception_handlers=exception_handlers,
        middleware=[metrics.measure, refuse_malformed, gate],
        before_send=[secure_headers],
        request_class=AtelierRequest,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Atelier",
            version="1.0.0",
            description="The open directory of qualified car repairers.",
            path="/schema",
            render_plugins=[ApiReference()],
        ),
        on_shutdown=[engine.dispose],
        lifespan=[_lifespan(services)],
        logging_config=None,  # keep the JSON logging the CLI configured
    )
    complete_openapi(app)
    complete_methods(app)
    return app
