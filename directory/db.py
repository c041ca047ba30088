"""Engine and sessions for the system of record, and the Alembic hook that builds its schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, Engine, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.types import TypeDecorator

from directory.errors import NotFound, PreconditionRequired, StaleWrite

MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone, so it is restored on load)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(timezone=True)}


def get_or_404(session: Session, model: type[T], key: str, what: str) -> T:
    """The row with this primary key, or NotFound naming it."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row


# --- versions and preconditions ------------------------------------------------------------------


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int, *, required: bool = True) -> None:
    """RFC 9110 If-Match: '*' or a list of entity tags; weak tags never match for writes."""
    if if_match is None:
        if required:
            raise PreconditionRequired("send If-Match with the ETag of the version you changed")
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags or etag(version) in tags:
        return
    raise StaleWrite(
        f"the resource changed since you read it: its ETag is now {etag(version)}",
        current_etag=etag(version),
    )


def flush_versioned(session: Session) -> None:
    """Flush, turning a lost race on a row's version into 412 Precondition failed."""
    try:
        session.flush()
    except StaleDataError as err:
        # Another writer committed between our read and our UPDATE (the version check in SQL).
        raise StaleWrite("the resource was changed by another request; read it again") from err


def make_engine(url: str, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine with the per-backend settings the service relies on. ``pool_size``: one
    connection per worker thread (Settings.threads), plus a few for the background work."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers run beside the one writer; foreign keys are off by default in SQLite.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # BEGIN IMMEDIATE takes the write lock up front, so two writers queue instead of
            # failing late with "database is locked" on upgrade from a read lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # psycopg prepares a statement once it has run five times, and PostgreSQL then may settle on
    # a generic plan: for "IN (500 values)" lookups that plan is a sequential scan (seen during
    # the import benchmark). Custom plans keep the index.
    connect_args = {"options": "-c plan_cache_mode=force_custom_plan"}
    if pool_size is not None:
        kwargs |= {"pool_size": pool_size, "max_overflow": 4}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(url), revision)
