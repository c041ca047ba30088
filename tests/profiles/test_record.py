"""The system of record: migrations match the models; every public change writes the outbox."""

from __future__ import annotations

import os
import stat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import select

from directory.cli import main
from directory.db import Base, transaction
from directory.models import ApiKey, Organisation, OutboxEvent, Site
from search.engine import load_or_create_master_key
from tests.conftest import bare_site


def test_migrations_build_exactly_the_schema_the_models_declare(engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_every_public_change_writes_an_outbox_event_in_its_transaction(sessions) -> None:
    with transaction(sessions) as s:
        org, site = bare_site("S")
        s.add_all([org, site])
    with transaction(sessions) as s:
        s.get(Site, site.id).name = "S2"  # type: ignore[union-attr]
    with transaction(sessions) as s:
        s.get(Site, site.id).status = "closed"  # type: ignore[union-attr]
    with sessions() as s:
        events = [
            (e.entity, e.entity_id, e.op)
            for e in s.scalars(select(OutboxEvent).order_by(OutboxEvent.id))
        ]
    assert events == [
        ("organisation", org.id, "create"),
        ("site", site.id, "create"),
        ("site", site.id, "update"),
        ("site", site.id, "delete"),
    ]


def test_a_rolled_back_change_leaves_no_event(sessions) -> None:
    with pytest.raises(RuntimeError), transaction(sessions) as s:
        s.add(Organisation(legal_name="Ghost", kind="independent"))
        s.flush()
        raise RuntimeError("abort")
    with sessions() as s:
        assert s.scalars(select(OutboxEvent)).all() == []
        assert s.scalars(select(Organisation)).all() == []


def test_keys_create_prints_the_secret_once_and_stores_only_its_hash(
    sessions, database_url, tmp_path
) -> None:
    env = {"DATABASE_URL": database_url, "ATELIER_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(
        main, ["keys", "create", "--scope", "admin", "--name", "ops"], env=env
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("atk_")
    with sessions() as s:
        key = s.scalars(select(ApiKey)).one()
    assert key.scopes == ["admin"] and key.name == "ops"
    stored = " ".join(str(v) for v in vars(key).values())
    assert secret.split("_", 2)[2] not in stored
    listed = CliRunner().invoke(main, ["keys", "list"], env=env)
    assert key.prefix in listed.stdout and secret not in listed.stdout


def test_a_bad_environment_is_a_readable_cli_error(tmp_path) -> None:
    result = CliRunner().invoke(main, ["keys", "list"], env={"ATELIER_PORT": "http"})
    assert result.exit_code == 1
    assert "ATELIER_PORT='http': must be a whole number" in result.output


def test_the_managed_engine_key_is_private_and_stable(tmp_path) -> None:
    key = load_or_create_master_key(tmp_path)
    assert load_or_create_master_key(tmp_path) == key and len(key) >= 32
    mode = os.stat(tmp_path / "meili" / "master.key").st_mode
    assert stat.S_IMODE(mode) == 0o600
