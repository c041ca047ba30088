"""Alembic environment: the URL comes from the caller (settings), never from a file in the repo."""

from alembic import context
from sqlalchemy import pool

from directory import models  # noqa: F401 - registers every table on Base.metadata
from directory.db import Base, make_engine

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "the caller sets sqlalchemy.url"  # noqa: S101
    connectable = config.attributes.get("connection") or make_engine(url, poolclass=pool.NullPool)
    if hasattr(connectable, "connect"):
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported: run `atelier db upgrade`")
run_migrations_online()
