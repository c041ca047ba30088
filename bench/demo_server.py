"""A real ``atelier serve --demo`` on a free loopback port (SQLite, the managed Meilisearch),
rate limits lifted, for the benchmarks that time the service as a client does."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.serving import free_port

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2)


@contextmanager
def demo_service(ready_search: dict[str, str]) -> Iterator[httpx.Client]:
    """A client of the service once ``ready_search`` answers from the index (the demo is
    loaded and the index filled)."""
    port = free_port()
    data = Path(tempfile.mkdtemp())
    env = {**os.environ, "ATELIER_DATA_DIR": str(data), "ATELIER_PORT": str(port)}
    env |= {"ATELIER_LOG_LEVEL": "ERROR", "ATELIER_RATE_SEARCH_ANONYMOUS": "1000000"}
    env |= {"ATELIER_RATE_ANONYMOUS": "1000000"}
    server = subprocess.Popen([str(ROOT / ".venv/bin/atelier"), "serve", "--demo"], env=env)  # noqa: S603
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:  # the demo loads, then the index fills
                try:
                    reply = client.get("/v1/search", params=ready_search)
                    if reply.headers.get("x-search-backend") == "index" and reply.json()["items"]:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(1)
            time.sleep(20)  # let the index finish filling
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)
