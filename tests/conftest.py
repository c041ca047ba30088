"""Real parts only: a Meilisearch process and a database (SQLite, or PostgreSQL: DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from directory.app import create_app
from directory.db import Base, make_engine, transaction, upgrade
from directory.gate import keys
from directory.outbox.hooks import make_sessionmaker
from directory.settings import Settings, load_settings
from search.engine import MeiliProcess
from search.geocode import default_gazetteer


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url = load_settings({"DATABASE_URL": url}).database_url
    if "test" not in (make_url(url).database or ""):
        # The suite empties the database it is given: refuse anything not named for tests.
        raise pytest.UsageError(f"DATABASE_URL must name a test database, got {url!r}")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield make_sessionmaker(engine)
    # Every test starts from empty tables (children first, so foreign keys hold).
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(scope="session")
def meili(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeiliProcess]:
    with MeiliProcess(tmp_path_factory.mktemp("meili")) as proc:
        yield proc


@pytest.fixture(scope="session")
def gazetteer():  # type: ignore[no-untyped-def]
    return default_gazetteer()


@pytest.fixture()
def settings(database_url: str, tmp_path: Path) -> Settings:
    return load_settings(
        {
            "DATABASE_URL": database_url,
            "ATELIER_DATA_DIR": str(tmp_path),
            "ATELIER_MAX_BODY_BYTES": "65536",
        }
    )


@pytest.fixture()
def client(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    meili: MeiliProcess,
    gazetteer,
) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(settings, engine=engine, meili_url=meili.url, geocoder=gazetteer)
    app.on_shutdown.clear()  # the engine outlives one test
    with TestClient(app) as test_client:
        yield test_client


def _key(sessions: sessionmaker[Session], *scopes: str) -> str:
    with transaction(sessions) as session:
        return keys.create_key(session, "test", scopes)[1]


@pytest.fixture()
def admin(sessions: sessionmaker[Session]) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(sessions, 'admin')}"}


@pytest.fixture()
def make_key(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    return lambda *scopes: {"Authorization": f"Bearer {_key(sessions, *scopes)}"}


ORG = {
    "legal_name": "Garage Martin SARL",
    "trade_name": "Garage Martin",
    "kind": "independent",
    "identifiers": [{"scheme": "siren", "value": "552100554"}],
}
SITE = {
    "name": "Garage Martin Lyon 3",
    "address": {
        "street": "12 rue de la Gare",
        "postcode": "69003",
        "city": "Lyon",
        "country": "FR",
    },
    "location": {"lat": 45.7597, "lng": 4.859},
    "timezone": "Europe/Paris",
    "opening_hours": "Mo-Fr 08:00-18:00; Sa 09:00-12:00",
    "phone": "+33 4 78 12 34 56",
    "brands": ["renault", "dacia"],
    "vehicles": ["car", "van"],
    "powertrains": ["ice", "hev", "bev"],
    "services": ["diagnostics", "air_conditioning", "tyres"],
    "languages": ["fr", "en"],
}


@pytest.fixture()
def organisation(client: TestClient, admin: dict[str, str]) -> dict:  # type: ignore[type-arg]
    reply = client.post("/v1/organisations", json=ORG, headers=admin)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


@pytest.fixture()
def site(client: TestClient, admin: dict[str, str], organisation: dict) -> dict:  # type: ignore[type-arg]
    reply = client.post(f"/v1/organisations/{organisation['id']}/sites", json=SITE, headers=admin)
    assert reply.status_code == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def table_snapshot(sessions: sessionmaker[Session]) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    """Every row of every table, to prove a refused request changed nothing. The rate-limit
    buckets are left out: counting a refused request is the point of them (they are request
    accounting shared by the workers, not directory data)."""
    with sessions() as session:
        return {
            t.name: sorted(tuple(map(str, r)) for r in session.execute(t.select()))
            for t in Base.metadata.sorted_tables
            if t.name != "rate_limit"
        }


# --- search ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def meili_keys(meili: MeiliProcess):  # type: ignore[no-untyped-def]
    from search.index import ensure_keys

    return ensure_keys(meili.url, meili.master_key)


def writer_for(proc: MeiliProcess):  # type: ignore[no-untyped-def]
    """A test's own engine made ready (keys, settings) and the writer the sync worker uses."""
    from search.index import IndexWriter, ensure_keys, ensure_settings

    keys = ensure_keys(proc.url, proc.master_key)
    ensure_settings(proc.url, keys.write)
    return IndexWriter(proc.url, keys.write)


@pytest.fixture()
def index(meili: MeiliProcess, meili_keys):  # type: ignore[no-untyped-def]
    """An empty 'sites' index with our settings, and the writer the sync worker uses."""
    from search.index import INDEX, IndexWriter, ensure_settings

    writer = IndexWriter(meili.url, meili_keys.write)
    writer.drop(INDEX)
    ensure_settings(meili.url, meili_keys.write)
    return writer


@pytest.fixture()
def search_client(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    meili: MeiliProcess,
    meili_keys,
    index,
    gazetteer,
) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The API with the index for searches; tests run the sync worker themselves."""
    app = create_app(
        settings,
        engine=engine,
        meili_url=meili.url,
        search_key=meili_keys.search,
        geocoder=gazetteer,
    )
    app.on_shutdown.clear()
    with TestClient(app) as test_client:
        yield test_client


def drain(sessions: sessionmaker[Session], writer) -> int:  # type: ignore[no-untyped-def]
    """Run the sync worker until the outbox is empty."""
    from certifications.catalogue import default_catalogue
    from directory.outbox.sync import run_once

    total = 0
    while handled := run_once(sessions, writer, default_catalogue()):
        total += handled
    return total


def bare_site(name: str = "Garage", lat: float = 45.7, lng: float = 4.8):  # type: ignore[no-untyped-def]
    """An organisation and its site as bare rows (tests that need the record, not the API)."""
    from directory.models import Organisation, Site

    org = Organisation(legal_name=f"{name} SARL", kind="independent")
    site = Site(
        organisation=org,
        name=name,
        city="Lyon",
        country="FR",
        lat=lat,
        lng=lng,
        timezone="Europe/Paris",
    )
    return org, site


# --- accounts ------------------------------------------------------------------------------------

PASSWORD = "violet harbour engine 42"


def mails_to(settings: Settings, address: str) -> list[str]:
    """Bodies of the messages written for ``address``, oldest first (the embedded mailer)."""
    import email
    from email import policy

    folder = settings.data_dir / "mail"
    out = []
    for path in sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if msg["To"] == address:
            out.append(msg.get_body().get_content())  # type: ignore[union-attr]
    return out


def mailed_token(settings: Settings, address: str) -> str:
    import re

    found = re.search(r"token=([A-Za-z0-9_-]+)", mails_to(settings, address)[-1])
    assert found, "no token in the last message"
    return found.group(1)


@pytest.fixture()
def repairer(client: TestClient, settings: Settings):  # type: ignore[no-untyped-def]
    """A factory: sign up, verify and log in an address; the bearer headers come back."""

    def make(address: str, password: str = PASSWORD) -> dict[str, str]:
        assert (
            client.post(
                "/v1/auth/signup", json={"email": address, "password": password}
            ).status_code
            == 202
        )
        token = mailed_token(settings, address)
        assert client.post("/v1/auth/verify", json={"token": token}).status_code == 200
        reply = client.post("/v1/auth/login", json={"email": address, "password": password})
        assert reply.status_code == 200, reply.text
        return {"Authorization": f"Bearer {reply.json()['token']}"}

    return make
