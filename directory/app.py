"""create_app(): the composition root, where settings, database, geocoder and routes meet."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from sqlalchemy import Engine

from certifications.catalogue import Catalogue, default_catalogue
from directory import health, trust_routes
from directory.db import make_engine, make_sessionmaker
from directory.errors import exception_handlers
from directory.routes import OrganisationController, SiteController
from directory.settings import Settings
from search.geocode import Geocoder, make_geocoder


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    meili_url: str | None = None,
    geocoder: Geocoder | None = None,
    catalogue: Catalogue | None = None,
) -> Litestar:
    """The ASGI application. ``meili_url`` is the managed engine's address when there is one."""
    engine = engine or make_engine(settings.database_url)
    state = State(
        {
            "settings": settings,
            "engine": engine,
            "sessions": make_sessionmaker(engine),
            "geocoder": geocoder or make_geocoder(settings.geocoder, settings.geocoder_user_agent),
            "meili_url": meili_url or settings.meili_url,
            # Loaded and checked whole here: a broken catalogue stops the service at start-up.
            "catalogue": catalogue or default_catalogue(),
        }
    )
    return Litestar(
        route_handlers=[
            OrganisationController,
            SiteController,
            *trust_routes.route_handlers,
            health.live,
            health.ready,
        ],
        state=state,
        exception_handlers=exception_handlers,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Atelier",
            version="1.0.0",
            description="The open directory of qualified car repairers.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
        ),
        on_shutdown=[engine.dispose],
        logging_config=None,  # keep the JSON logging the CLI configured
    )
