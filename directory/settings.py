"""Typed configuration, read once from the environment and passed in (never read at import time)."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

__all__ = ["Settings", "SettingsError", "load_settings"]

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
GeocoderName = Literal["offline", "nominatim", "ban"]


class SettingsError(ValueError):
    """A bad value in the environment; the message names the variable and what it expects."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("var")
    database_url: str = ""
    meili_url: str | None = None
    meili_master_key: str | None = None
    meili_bin: str | None = None
    meili_search_key: str | None = None
    meili_write_key: str | None = None
    sync: Literal["in-process", "external"] = "in-process"
    log_level: LogLevel = "INFO"
    max_body_bytes: int = 1_048_576
    geocoder: GeocoderName = "offline"
    geocoder_user_agent: str = "atelier-directory"
    session_hours: int = 12
    # Requests a minute per client (anonymous: per address; signed in: per account or key).
    rate_search_anonymous: int = 120
    rate_anonymous: int = 600
    rate_authenticated: int = 1200
    rate_auth: int = 10  # sign-up, log-in, verification: per address, against password guessing
    trusted_proxies: tuple[str, ...] = ()
    public_url: str = "http://127.0.0.1:8000"  # links in mails
    # Blocking work (every database call) runs in anyio's worker threads, and each holds one
    # database connection while it runs; the PostgreSQL pool is sized to this number, so a thread
    # never queues inside the pool for a connection. 24 keeps two cores busy while requests wait
    # on the database, short of anyio's default 40, where more threads only contend for the GIL.
    threads: int = 24
    # The pages' map: raster tiles by {z}/{x}/{y}, and the attribution their licence asks for.
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    tile_attribution: str = "© OpenStreetMap contributors"

    @property
    def managed_meili(self) -> bool:
        """True when Atelier starts and supervises its own Meilisearch child process."""
        return self.meili_url is None


# Each variable: (environment name, field, parser). One table so the README and the code agree.
def _port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("must be a TCP port between 1 and 65535")
    return value


def _body_limit(raw: str) -> int:
    value = int(raw)
    if not 1024 <= value <= 64 * 1_048_576:
        raise ValueError("must be between 1024 and 67108864 bytes")
    return value


def _choice(*allowed: str):
    def parse(raw: str) -> str:
        value = raw.strip()
        if value.upper() in allowed:
            return value.upper()
        if value.lower() in allowed:
            return value.lower()
        raise ValueError(f"must be one of {', '.join(allowed)}")

    return parse


def _url(*schemes: str):
    def parse(raw: str) -> str:
        value = raw.strip()
        if value.split("://", 1)[0] not in schemes or "://" not in value:
            raise ValueError(
                f"must be a URL starting with {' or '.join(s + '://' for s in schemes)}"
            )
        return value.rstrip("/") if schemes == ("http", "https") else value

    return parse


def _nonempty(raw: str) -> str:
    if not raw.strip():
        raise ValueError("must not be empty")
    return raw.strip()


def _master_key(raw: str) -> str:
    # Meilisearch itself refuses master keys shorter than 16 bytes in production mode.
    if len(raw.encode()) < 16:
        raise ValueError("must be at least 16 bytes long")
    return raw


def _between(low: int, high: int):
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse


def _networks(raw: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR blocks of reverse proxies whose X-Forwarded-For is
    believed; anything else is checked here so a typo fails at start-up, not silently."""
    out = []
    for part in raw.split(","):
        if part.strip():
            out.append(str(ipaddress.ip_network(part.strip(), strict=False)))
    return tuple(out)


def _tile_url(raw: str) -> str:
    value = _url("http", "https")(raw)
    missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
    if missing:
        raise ValueError(f"must hold {', '.join(missing)} (a tile URL template)")
    return value


VARIABLES: dict[str, tuple[str, object]] = {
    "ATELIER_HOST": ("host", _nonempty),
    "ATELIER_PORT": ("port", _port),
    "ATELIER_DATA_DIR": ("data_dir", lambda raw: Path(_nonempty(raw))),
    "DATABASE_URL": ("database_url", _url("sqlite", "postgresql", "postgresql+psycopg")),
    "MEILI_URL": ("meili_url", _url("http", "https")),
    "MEILI_MASTER_KEY": ("meili_master_key", _master_key),
    "MEILI_BIN": ("meili_bin", _nonempty),
    "MEILI_SEARCH_KEY": ("meili_search_key", _nonempty),
    "MEILI_WRITE_KEY": ("meili_write_key", _nonempty),
    "ATELIER_SYNC": ("sync", _choice("in-process", "external")),
    "ATELIER_LOG_LEVEL": ("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
    "ATELIER_MAX_BODY_BYTES": ("max_body_bytes", _body_limit),
    "ATELIER_GEOCODER": ("geocoder", _choice("offline", "nominatim", "ban")),
    "ATELIER_GEOCODER_USER_AGENT": ("geocoder_user_agent", _nonempty),
    "ATELIER_SESSION_HOURS": ("session_hours", _between(1, 24 * 30)),
    "ATELIER_RATE_SEARCH_ANONYMOUS": ("rate_search_anonymous", _between(1, 1_000_000)),
    "ATELIER_RATE_ANONYMOUS": ("rate_anonymous", _between(1, 1_000_000)),
    "ATELIER_RATE_AUTHENTICATED": ("rate_authenticated", _between(1, 1_000_000)),
    "ATELIER_RATE_AUTH": ("rate_auth", _between(1, 1_000_000)),
    "ATELIER_TRUSTED_PROXIES": ("trusted_proxies", _networks),
    "ATELIER_PUBLIC_URL": ("public_url", _url("http", "https")),
    "ATELIER_THREADS": ("threads", _between(2, 256)),
    "ATELIER_TILE_URL": ("tile_url", _tile_url),
    "ATELIER_TILE_ATTRIBUTION": ("tile_attribution", _nonempty),
}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from the environment; every bad value is reported at once."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    problems: list[str] = []
    for name, (field, parse) in VARIABLES.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            values[field] = parse(raw)  # type: ignore[operator]
        except ValueError as err:
            reason = str(err) if "invalid literal" not in str(err) else "must be a whole number"
            problems.append(f"{name}={raw!r}: {reason}")
    if problems:
        raise SettingsError("invalid configuration: " + "; ".join(problems))
    settings = Settings(**values)  # type: ignore[arg-type]
    if not settings.database_url:
        db_path = (settings.data_dir / "atelier.db").resolve()
        settings = msgspec.structs.replace(settings, database_url=f"sqlite:///{db_path}")
    elif settings.database_url.startswith("postgresql://"):
        # One driver for PostgreSQL: psycopg 3, whatever spelling the operator used.
        url = "postgresql+psycopg://" + settings.database_url.removeprefix("postgresql://")
        settings = msgspec.structs.replace(settings, database_url=url)
    return settings
