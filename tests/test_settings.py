"""Configuration from the environment: typed, validated, every bad value named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from directory.settings import SettingsError, load_settings


def test_defaults_are_the_embedded_mode() -> None:
    s = load_settings({})
    assert (s.host, s.port, str(s.data_dir)) == ("127.0.0.1", 8000, "var")
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/atelier.db")
    assert s.managed_meili


def test_database_defaults_under_the_data_dir() -> None:
    assert (
        load_settings({"ATELIER_DATA_DIR": "/srv/x"}).database_url == "sqlite:////srv/x/atelier.db"
    )


def test_plain_postgresql_urls_use_psycopg() -> None:
    s = load_settings({"DATABASE_URL": "postgresql://u@h/db"})
    assert s.database_url == "postgresql+psycopg://u@h/db"


@given(st.integers().filter(lambda p: not 1 <= p <= 65535))
def test_ports_out_of_range_are_refused(port: int) -> None:
    with pytest.raises(SettingsError, match="ATELIER_PORT"):
        load_settings({"ATELIER_PORT": str(port)})


@given(st.text(min_size=1).filter(lambda t: not t.strip().lstrip("+-").isdigit()))
def test_non_numbers_are_refused_with_the_variable_named(raw: str) -> None:
    with pytest.raises(SettingsError, match="ATELIER_PORT"):
        load_settings({"ATELIER_PORT": raw})


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(
            {
                "ATELIER_PORT": "0",
                "MEILI_URL": "ftp://x",
                "MEILI_MASTER_KEY": "short",
                "ATELIER_LOG_LEVEL": "LOUD",
            }
        )
    for name in ("ATELIER_PORT", "MEILI_URL", "MEILI_MASTER_KEY", "ATELIER_LOG_LEVEL"):
        assert name in str(err.value)
    assert "short" not in str(err.value).split("MEILI_MASTER_KEY=")[1].split(":")[1]


def test_a_tile_url_must_be_a_template_and_sets_the_pages_image_policy() -> None:
    from directory.web.render import page_csp

    with pytest.raises(SettingsError, match=r"ATELIER_TILE_URL.*\{x\}, \{y\}"):
        load_settings({"ATELIER_TILE_URL": "https://tiles.example.org/{z}.png"})
    with pytest.raises(SettingsError, match="ATELIER_TILE_URL"):
        load_settings({"ATELIER_TILE_URL": "ftp://tiles.example.org/{z}/{x}/{y}.png"})
    own = load_settings({"ATELIER_TILE_URL": "https://{s}.tiles.example.org/{z}/{x}/{y}.png"})
    assert "img-src 'self' https://*.tiles.example.org;" in page_csp(own)
    assert "tile.openstreetmap.org" in page_csp(load_settings({}))
