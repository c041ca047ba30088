"""Deep pages of a wide search over an uneven spread, on the engine: every page of a 150 km
search around a point whose centre is empty, with a dense town at the edge of the circle and
another in the corner of its box (the shape that used to send page 3 onwards to the database).
For each depth: engine requests and time to find the page's points, against one request that
fetches every match of the radius at once (what a caller would do with no paging at all).

    .venv/bin/python bench/deep_pages.py --towns 4000

Writes bench/results/deep_pages.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from search import nearest  # noqa: E402
from search.engine import MeiliProcess  # noqa: E402
from search.index import INDEX, IndexWriter, ensure_keys, ensure_settings  # noqa: E402
from tests.spreads import ORIGIN, RADIUS_M, CountingSearcher, uneven  # noqa: E402


async def measure(url: str, key: str, total: int, depths: list[int]) -> list[dict[str, float]]:
    searcher = CountingSearcher(url, key)
    rows = []
    try:
        for needed in depths:
            times, counts = [], []
            for _ in range(5):
                searcher.requests = 0
                started = time.perf_counter()
                await nearest.nearest_points(
                    searcher, "", ['status = "active"'], ORIGIN, RADIUS_M, needed, total
                )
                times.append((time.perf_counter() - started) * 1000)
                counts.append(searcher.requests)
            started = time.perf_counter()
            whole = await searcher.points(
                {
                    "q": "",
                    "limit": nearest.MAX_FETCH,
                    "filter": [nearest.region_clause(ORIGIN, RADIUS_M)],
                }
            )
            everything_ms = (time.perf_counter() - started) * 1000
            rows.append(
                {
                    "page_ends_at": needed - 1,
                    "requests": statistics.median(counts),
                    "ms_p50": round(statistics.median(times), 1),
                    "one_request_for_all_ms": round(everything_ms, 1),
                    "all_matches": len(whole.hits),
                }
            )
            print(rows[-1])
    finally:
        await searcher.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--towns", type=int, default=4000, help="sites in each dense town")
    args = parser.parse_args()
    docs = uneven(sparse=400, town=args.towns, seed=7)
    with MeiliProcess(Path(tempfile.mkdtemp())) as meili:
        keys = ensure_keys(meili.url, meili.master_key)
        ensure_settings(meili.url, keys.write)
        IndexWriter(meili.url, keys.write).apply(docs, [], INDEX)
        depths = [21, 101, 201, 401, 1001, 2001, 4001]
        rows = asyncio.run(measure(meili.url, keys.search, len(docs), depths))
    out = Path(__file__).parent / "results" / "deep_pages.json"
    out.write_text(json.dumps({"sites": len(docs), "towns": args.towns, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
