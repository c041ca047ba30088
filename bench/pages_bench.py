"""The drivers' results page against the API search it wraps, on a real `atelier serve --demo`
(SQLite, the managed Meilisearch): the same searches, interleaved, one client. Prints p50/p99 of
each and the page's weight (the HTML and every stylesheet and script it links, as a browser
fetches them, gzip accepted; no map tiles). The page asks its search for the brand and
powertrain counts, so it is timed against the API asked the same (``facets``) and plain.

    .venv/bin/python bench/pages_bench.py --rounds 200

Writes bench/results/pages_bench.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.demo_server import demo_service, pct  # noqa: E402

SEARCHES = [
    {"place": "Lyon", "radius_km": "25"},
    {"place": "Paris", "radius_km": "10", "job": "diagnostics"},
    {"place": "69003", "radius_km": "50", "job": "ev-battery"},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    with demo_service(SEARCHES[0]) as client:
        page_ms: list[float] = []
        api_ms: list[float] = []
        facets_ms: list[float] = []
        for i in range(args.rounds):
            params = SEARCHES[i % len(SEARCHES)]
            faceted = [*params.items(), ("facets", "brand"), ("facets", "powertrain")]
            for path, query, into in (
                ("/", params, page_ms),
                ("/v1/search", faceted, facets_ms),
                ("/v1/search", params, api_ms),
            ):
                started = time.perf_counter()
                reply = client.get(path, params=query)
                into.append((time.perf_counter() - started) * 1000)
                assert reply.status_code == 200, (path, reply.text[:200])
        gz = {"Accept-Encoding": "gzip"}
        page = client.get("/", params=SEARCHES[0], headers=gz)
        linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
        weight = int(page.headers.get("content-length", len(page.content)))
        for asset in linked:
            weight += int(client.get(asset, headers=gz).headers["content-length"])
    result = {
        "rounds": args.rounds,
        "page_ms": {"p50": pct(page_ms, 0.5), "p99": pct(page_ms, 0.99)},
        "api_same_facets_ms": {"p50": pct(facets_ms, 0.5), "p99": pct(facets_ms, 0.99)},
        "api_plain_ms": {"p50": pct(api_ms, 0.5), "p99": pct(api_ms, 0.99)},
        "page_minus_api_same_facets_p50_ms": round(
            statistics.median(page_ms) - statistics.median(facets_ms), 2
        ),
        "page_weight_bytes": weight,
        "page_assets": linked,
    }
    print(json.dumps(result, indent=1))
    (ROOT / "bench" / "results" / "pages_bench.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
