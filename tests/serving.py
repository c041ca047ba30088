"""A real ``atelier serve`` process on a free loopback port, on the test database and engine,
for the tests that must go through HTTP as a client does (Schemathesis, the browser)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(database_url: str, meili, meili_keys, data_dir: Path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The service's URL while it runs; its index is the test engine's, synced by the test."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ATELIER_DATA_DIR": str(data_dir),
        "ATELIER_PORT": str(port),
        "MEILI_URL": meili.url,
        "MEILI_SEARCH_KEY": meili_keys.search,
        "MEILI_WRITE_KEY": meili_keys.write,
        "ATELIER_SYNC": "external",
        "ATELIER_LOG_LEVEL": "ERROR",
        # Test clients send thousands of requests a minute from one address.
        "ATELIER_RATE_ANONYMOUS": "1000000",
        "ATELIER_RATE_SEARCH_ANONYMOUS": "1000000",
        "ATELIER_RATE_AUTHENTICATED": "1000000",
        "ATELIER_RATE_AUTH": "1000000",
    }
    server = subprocess.Popen([str(BIN / "atelier"), "serve"], env=env, cwd=ROOT)  # noqa: S603
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health/live").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)
