"""Commit → searchable at scale, under a steady stream of writes, and the full rebuild from the
record (issue #14: p99 ≤ 1 s at 1M sites under 10 writes/s; rebuild of 1M ≤ 5 min).

    .venv/bin/python bench/lag_bench.py --sites 1000000 --rate 10 --seconds 60

The record is bulk-loaded (set-up, not measured), then `atelier reindex` builds the index
from it as an operator would (timed: the rebuild), then `atelier sync` runs as its own process
(the production topology) while this script commits ``--rate`` site changes a second (a new
name and a move of a few metres, so grid cells are rewritten too) through the ORM, outbox
included. One poller asks the engine for every change not yet seen, every 5 ms; a change's
lag is from its commit to the first answer that shows it. Writes bench/results/lag_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search_bench import generate, load_record, pct  # noqa: E402
from directory.db import make_engine, transaction  # noqa: E402
from directory.models import Site  # noqa: E402
from directory.outbox.hooks import make_sessionmaker  # noqa: E402
from search.engine import MeiliProcess  # noqa: E402
from search.index import INDEX, ensure_keys, ensure_settings  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "lag_bench.json"
ATELIER = str(Path(sys.executable).parent / "atelier")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sites", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=10.0, help="writes a second")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    out: dict = {"sites": args.sites, "writes_per_s": args.rate}
    records, holdings = generate(args.sites, seed=args.sites)
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        load_record(db_url, records, holdings)
        print(f"record loaded in {time.perf_counter() - started:.1f} s", flush=True)
        meili = MeiliProcess(Path(tmp)).start()
        keys = ensure_keys(meili.url, meili.master_key)
        ensure_settings(meili.url, keys.write)
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "MEILI_URL": meili.url,
            "MEILI_SEARCH_KEY": keys.search,
            "MEILI_WRITE_KEY": keys.write,
            "ATELIER_DATA_DIR": tmp,
            "ATELIER_LOG_LEVEL": "WARNING",
        }
        started = time.perf_counter()
        subprocess.run([ATELIER, "reindex"], env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        out["reindex_s"] = round(time.perf_counter() - started, 1)
        print(f"atelier reindex: {out['reindex_s']} s", flush=True)
        sync = subprocess.Popen([ATELIER, "sync"], env=env)  # noqa: S603
        try:
            out |= stream(db_url, meili.url, keys.search, records, args.rate, args.seconds)
        finally:
            sync.send_signal(signal.SIGINT)
            sync.wait(30)
            meili.stop()
    print(json.dumps(out, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {RESULTS}")


def stream(  # type: ignore[no-untyped-def]
    db_url: str, meili_url: str, search_key: str, records, rate: float, seconds: float
) -> dict:
    sessions = make_sessionmaker(make_engine(db_url))
    rng = random.Random(7)
    pending: dict[str, tuple[str, float]] = {}  # site id → (its new name, committed at)
    lags: list[float] = []
    when: list[float] = []  # each measured write's commit, seconds into the run
    began = time.perf_counter()
    lock = threading.Lock()
    writing = threading.Event()
    writing.set()
    late_writes = 0

    def writer() -> None:
        nonlocal late_writes
        due = time.perf_counter()
        i = 0
        while writing.is_set():
            record = rng.choice(records)
            name = f"Renamed {i} {time.time_ns()}"
            with transaction(sessions) as session:
                site = session.get(Site, record.id)
                assert site is not None
                site.name = name
                site.lat = min(89.0, site.lat + rng.uniform(-5e-5, 5e-5))
            with lock:
                pending[record.id] = (name, time.perf_counter())
            i += 1
            due += 1 / rate
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                late_writes += 1  # the database could not keep the pace: said in the results

    def poll(web: httpx.Client) -> None:
        with lock:
            asked = dict(pending)
        if not asked:
            return
        listed = ", ".join(f'"{sid}"' for sid in asked)
        reply = web.post(
            f"{meili_url}/indexes/{INDEX}/search",
            json={
                "q": "",
                "filter": f"id IN [{listed}]",
                "limit": len(asked),
                "attributesToRetrieve": ["id", "name"],
            },
        )
        seen = time.perf_counter()
        for hit in reply.json()["hits"]:
            name, committed = asked[hit["id"]]
            if hit["name"] == name:
                with lock:
                    if pending.get(hit["id"], (None,))[0] == name:
                        del pending[hit["id"]]
                        lags.append((seen - committed) * 1000)
                        when.append(committed - began)

    headers = {"Authorization": f"Bearer {search_key}", "Accept-Encoding": "identity"}
    with httpx.Client(timeout=10, headers=headers) as web:
        # Warm-up: the engine's first batch after opening an index is slow (about 2 s, once).
        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        stop = time.perf_counter() + seconds
        warm = 5.0  # writes committed in the first seconds are not measured (above)
        while time.perf_counter() < stop:
            poll(web)
            time.sleep(0.005)
        writing.clear()
        thread.join()
        drain = time.perf_counter() + 30
        while pending and time.perf_counter() < drain:
            poll(web)
            time.sleep(0.005)
    kept = [(lag, at) for lag, at in zip(lags, when, strict=True) if at >= warm]
    lags, when = [lag for lag, _ in kept], [at for _, at in kept]
    print(f"{len(lags)} writes seen, {len(pending)} never, {late_writes} late", flush=True)
    worst = sorted(zip(lags, when, strict=True), reverse=True)[:5]
    print("slowest (lag ms, committed at s):", [(round(a), round(b, 1)) for a, b in worst])
    return {
        "writes_measured": len(lags),
        "writes_never_seen": len(pending),
        "writes_behind_pace": late_writes,
        "commit_to_searchable_ms": {
            "p50": round(pct(lags, 50), 1),
            "p90": round(pct(lags, 90), 1),
            "p99": round(pct(lags, 99), 1),
            "max": round(max(lags), 1),
        },
    }


if __name__ == "__main__":
    main()
