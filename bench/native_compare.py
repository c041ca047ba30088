"""Atelier's search against the best one-request query a user could send Meilisearch instead:
the same generated sites in an index with ``_geo``, ``_geoBoundingBox`` + ``_geoPoint`` sort,
the same engine binary, on this machine, in one interleaved run (issue #14).

    .venv/bin/python bench/native_compare.py --sizes 100000 1000000

Per size: the p50/p99 latency at one client of both, by radius (5, 20, 50, 100 km) and
competence (a common and a rare one), with the ratio API / native; searches a second at 8
concurrent clients and the API process's CPU a search; recall@20 of both against exact
geodesic distance (the native query ranks by haversine and returns the box: hits beyond the
radius are dropped as a client would); the full index build time of each (documents pushed
as they are: the rebuild from the record and commit → searchable lag are
``bench/lag_bench.py``'s). Writes bench/results/native_compare.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engine_replay import reference_top  # noqa: E402
from bench.search_bench import RADII, api_env, generated, pct, serve, site_schemes  # noqa: E402
from directory.db import upgrade  # noqa: E402
from search.engine import MeiliProcess  # noqa: E402
from search.index import INDEX, IndexWriter, ensure_keys, ensure_settings  # noqa: E402
from search.query import Origin  # noqa: E402
from search.results import bbox  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "native_compare.json"
NATIVE = "native"
PORT = 8766


class Lean:
    """One keep-alive connection, the same for both sides: only the server differs."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.headers = headers

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[float, bytes]:
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=self.headers)
        reply = self.conn.getresponse()
        content = reply.read()
        elapsed = (time.perf_counter() - started) * 1000
        assert reply.status == 200, content[:300]
        return elapsed, content


def native_body(p: dict) -> bytes:
    south, north, west, east = bbox(Origin(lat=p["lat"], lng=p["lng"]), p["radius_km"] * 1000)
    filters = [f"_geoBoundingBox([{north}, {east}], [{south}, {west}])"]
    if "competence" in p:
        filters.append(f'competences = "{p["competence"]}"')
    return msgspec.json.encode(
        {
            "q": "",
            "filter": filters,
            "sort": [f"_geoPoint({p['lat']}, {p['lng']}):asc"],
            "limit": 20,
            "attributesToRetrieve": ["id", "_geo"],
        }
    )


def native_ids(content: bytes, radius_m: float) -> list[str]:
    """The hits within the radius by the engine's own (haversine) distance, as a client of
    the native query would keep them."""
    hits = msgspec.json.decode(content)["hits"]
    return [h["id"] for h in hits if h["_geoDistance"] <= radius_m]


def api_path(p: dict) -> str:
    return "/v1/search?" + urlencode({k: v for k, v in p.items() if not k.startswith("_")})


def queries(records, schemes: list[str], per_cell: int, seed: int) -> list[dict]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    out = []
    for radius in RADII:
        for kind, scheme in (("common", schemes[0]), ("rare", schemes[-1])):
            for _ in range(per_cell):
                origin = rng.choice(records)
                out.append(
                    {
                        "lat": round(origin.lat, 5),
                        "lng": round(origin.lng, 5),
                        "radius_km": radius,
                        "competence": scheme,
                        "limit": 20,
                        "_kind": kind,
                    }
                )
    rng.shuffle(out)
    return out


def throughput(make, paths: list, seconds: float, clients: int = 8) -> float:  # type: ignore[no-untyped-def]
    done = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        lean = make()
        k = i
        while time.monotonic() < stop:
            method, path, body = paths[k % len(paths)]
            lean.call(method, path, body)
            done[i] += 1
            k += clients

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - started)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_size(n: int, per_cell: int, seconds: float) -> dict:
    print(f"--- {n} sites", flush=True)
    records, _, docs = generated(n)
    docs_by_id = {d.id: d for d in docs}
    result: dict = {"sites": n}
    with tempfile.TemporaryDirectory() as tmp:
        meili = MeiliProcess(Path(tmp)).start()
        keys = ensure_keys(meili.url, meili.master_key)
        ensure_settings(meili.url, keys.write)
        client = IndexWriter(meili.url, keys.write).client
        master = IndexWriter(meili.url, meili.master_key).client
        task = master.create_index(NATIVE, {"primaryKey": "id"})
        master.wait_for_task(task.task_uid)
        native = master.index(NATIVE)
        native.update_settings(
            {"filterableAttributes": ["_geo", "competences"], "sortableAttributes": ["_geo"]}
        )
        for name, index, payloads in (
            (
                "atelier",
                client.index(INDEX),
                [msgspec.json.decode(msgspec.json.encode(d)) for d in docs],
            ),
            (
                "native",
                native,
                # The same documents, with `_geo`: what a user indexing these sites would keep.
                [
                    msgspec.json.decode(msgspec.json.encode(d))
                    | {"_geo": {"lat": d.lat, "lng": d.lng}}
                    for d in docs
                ],
            ),
        ):
            started = time.perf_counter()
            uids = [
                index.add_documents(payloads[s : s + 25_000], primary_key="id").task_uid
                for s in range(0, n, 25_000)
            ]
            for uid in uids:
                done = master.wait_for_task(uid, timeout_in_ms=3_600_000, interval_in_ms=200)
                assert done.status == "succeeded", done.error
            result[f"{name}_build_s"] = round(time.perf_counter() - started, 1)
            print(name, "build", result[f"{name}_build_s"], "s", flush=True)

        qs = queries(records, site_schemes(), per_cell, seed=1)
        db_url = f"sqlite:///{tmp}/bench.db"
        upgrade(db_url)
        api = serve(api_env(db_url, meili.url, keys, tmp), PORT)
        engine_port = int(meili.url.rsplit(":", 1)[1])
        engine_headers = {  # a user's own key for their own index
            "Authorization": f"Bearer {meili.master_key}",
            "Content-Type": "application/json",
        }
        native_path = f"/indexes/{NATIVE}/search"
        try:
            mine, theirs = Lean(PORT, {}), Lean(engine_port, engine_headers)
            for p in qs[:20]:  # warm both
                mine.call("GET", api_path(p))
                theirs.call("POST", native_path, native_body(p))
            api_ms, native_ms = [], []
            api_hits, native_hits, wanted, native_differs = 0, 0, 0, 0
            for p in qs:
                elapsed, content = mine.call("GET", api_path(p))
                api_ms.append(elapsed)
                got = [i["id"] for i in msgspec.json.decode(content)["items"]]
                elapsed, content = theirs.call("POST", native_path, native_body(p))
                native_ms.append(elapsed)
                native = native_ids(content, p["radius_km"] * 1000)
                want = reference_top(
                    records, docs_by_id, {k: v for k, v in p.items() if not k.startswith("_")}
                )
                wanted += len(want)
                api_hits += len(set(got) & set(want))
                native_hits += len(set(native) & set(want))
                native_differs += native != want
            table = {}
            for radius in RADII:
                for kind in ("common", "rare"):
                    sel = [
                        i
                        for i, p in enumerate(qs)
                        if p["radius_km"] == radius and p["_kind"] == kind
                    ]
                    a = [api_ms[i] for i in sel]
                    b = [native_ms[i] for i in sel]
                    table[f"{radius} km {kind}"] = {
                        "native_p50": round(pct(b, 50), 2),
                        "native_p99": round(pct(b, 99), 2),
                        "api_p50": round(pct(a, 50), 2),
                        "api_p99": round(pct(a, 99), 2),
                        "ratio_p50": round(pct(a, 50) / pct(b, 50), 2),
                        "ratio_p99": round(pct(a, 99) / pct(b, 99), 2),
                    }
            result["latency_ms"] = table
            result["recall_at_20"] = {
                "api": round(api_hits / wanted, 4) if wanted else 1.0,
                "native": round(native_hits / wanted, 4) if wanted else 1.0,
                "native_lists_differing_from_exact": native_differs,
                "queries": len(qs),
            }
            api_calls = [("GET", api_path(p), None) for p in qs]
            native_calls = [("POST", native_path, native_body(p)) for p in qs]
            before = cpu_seconds(api.pid)
            started = time.monotonic()
            api_rate = throughput(lambda: Lean(PORT, {}), api_calls, seconds)
            spent = cpu_seconds(api.pid) - before
            searches = api_rate * (time.monotonic() - started)
            native_rate = throughput(
                lambda: Lean(engine_port, engine_headers), native_calls, seconds
            )
            result["searches_per_s_8_clients"] = {
                "api": round(api_rate, 1),
                "native": round(native_rate, 1),
                "api_cpu_ms_a_search": round(spent / searches * 1000, 2),
            }
        finally:
            api.send_signal(signal.SIGINT)
            api.wait(30)
            meili.stop()
    print(json.dumps(result, indent=1), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--per-cell", type=int, default=40, help="queries a radius and kind")
    parser.add_argument("--seconds", type=float, default=15.0, help="each throughput run")
    args = parser.parse_args()
    runs = []
    for n in sorted(args.sizes):
        runs.append(run_size(n, args.per_cell, args.seconds))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    for run in runs:
        print(f"\n{run['sites']:,} sites (ms)   native p50/p99   API p50/p99   ratio p50/p99")
        for cell, row in run["latency_ms"].items():
            print(
                f"{cell:<18} {row['native_p50']:>7} / {row['native_p99']:<7} "
                f"{row['api_p50']:>6} / {row['api_p99']:<7} {row['ratio_p50']} / {row['ratio_p99']}"
            )
        print("searches/s at 8 clients", run["searches_per_s_8_clients"])
        print("recall@20", run["recall_at_20"])
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
