"""The API's overhead over the engine, quickly: one index of generated sites (default 30k),
the same queries as search_bench.py sent to the API and, interleaved, the same engine requests
straight to Meilisearch. For trying a change in a minute; search_bench.py is the full report.

    .venv/bin/python bench/search_gap.py --sites 30000 --queries 600

Writes bench/results/search_gap.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import msgspec  # noqa: E402

from bench.engine_replay import Engine, engine_sequence  # noqa: E402
from bench.search_bench import api_env, generated, queries, serve, site_schemes  # noqa: E402
from directory.db import upgrade  # noqa: E402
from search.engine import MeiliProcess  # noqa: E402
from search.index import INDEX, IndexWriter, ensure_keys, ensure_settings  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "search_gap.json"
PORT = 8766


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=600)
    args = parser.parse_args()
    records, _, docs = generated(args.sites)
    with tempfile.TemporaryDirectory() as tmp:
        meili = MeiliProcess(Path(tmp)).start()
        try:
            keys = ensure_keys(meili.url, meili.master_key)
            ensure_settings(meili.url, keys.write)
            client = IndexWriter(meili.url, keys.write).client
            payload = msgspec.json.decode(msgspec.json.encode(docs))
            task = client.index(INDEX).add_documents(payload, primary_key="id").task_uid
            client.wait_for_task(task, timeout_in_ms=600_000)
            db = f"sqlite:///{tmp}/gap.db"
            upgrade(db)
            api = serve(api_env(db, meili.url, keys, tmp), PORT)
            try:
                qs = queries(records, site_schemes(), args.queries, seed=1)
                conn = http.client.HTTPConnection("127.0.0.1", PORT)
                engine = Engine(meili.url, keys.search)

                def call(params: dict) -> float:
                    started = time.perf_counter()
                    conn.request("GET", "/v1/search?" + urlencode(params, doseq=True))
                    reply = conn.getresponse()
                    reply.read()
                    assert reply.status == 200, reply.status
                    return (time.perf_counter() - started) * 1000

                for p in qs[:50]:  # warm both
                    call(p)
                    engine_sequence(engine, p)
                engine_ms, api_ms = [], []
                for p in qs:
                    engine_ms.append(engine_sequence(engine, p))
                    api_ms.append(call(p))
            finally:
                api.terminate()
                api.wait(timeout=20)
        finally:
            meili.stop()
    engine_ms.sort()
    api_ms.sort()

    def p99(xs: list[float]) -> float:
        return round(xs[int(len(xs) * 0.99)], 2)

    result = {
        "sites": args.sites,
        "queries": len(qs),
        "engine_ms": {"p50": round(statistics.median(engine_ms), 2), "p99": p99(engine_ms)},
        "api_ms": {"p50": round(statistics.median(api_ms), 2), "p99": p99(api_ms)},
    }
    result["gap_p50_ms"] = round(result["api_ms"]["p50"] - result["engine_ms"]["p50"], 2)
    print(json.dumps(result, indent=1))
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
