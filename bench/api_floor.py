"""The floor under every API answer: what uvicorn + Litestar + our gate cost for requests that
do (almost) nothing, timed with the same lean client search_bench.py uses. Tells how much of
the API's overhead over the engine no search code can remove.

    .venv/bin/python bench/api_floor.py

Writes bench/results/api_floor.json.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.search_bench import serve  # noqa: E402
from directory.db import upgrade  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "api_floor.json"
PORT = 8767


def _time(conn: http.client.HTTPConnection, path: str, n: int) -> dict[str, float]:
    spent = []
    for i in range(n + 200):
        started = time.perf_counter()
        conn.request("GET", path)
        reply = conn.getresponse()
        reply.read()
        if i >= 200:  # warm-up discarded
            spent.append((time.perf_counter() - started) * 1000)
        assert reply.status == 200, reply.status
    spent.sort()
    return {"p50_ms": round(statistics.median(spent), 3), "p99_ms": round(spent[int(n * 0.99)], 3)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/floor.db"
        upgrade(db)
        api = serve(
            {
                "DATABASE_URL": db,
                # Nothing listens there: these routes never reach the engine.
                "MEILI_URL": "http://127.0.0.1:9",
                "MEILI_SEARCH_KEY": "unused-search-key",
                "MEILI_WRITE_KEY": "unused-write-key",
                "ATELIER_SYNC": "external",
                "ATELIER_DATA_DIR": tmp,
                "ATELIER_RATE_ANONYMOUS": "1000000",
            },
            PORT,
        )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT)
            results = {
                # uvicorn + Litestar, no middleware of ours (health is outside the gate).
                "health_live": _time(conn, "/health/live", 3000),
                # The same plus the gate (the anonymous rate-limit count) and a small JSON body.
                "competences_one_domain": _time(conn, "/v1/competences?domain=adas", 3000),
            }
        finally:
            api.terminate()
            api.wait(timeout=20)
    print(json.dumps(results, indent=1))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
