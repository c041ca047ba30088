"""Search benchmark: the API end to end beside the same query sent straight to Meilisearch, the
database fallback, recall@20 against a brute-force geodesic reference, full index build time and
commit → searchable lag.

    .venv/bin/python bench/search_bench.py --sizes 100000 1000000

Data: sites spread like real workshops (the demo generator's urban weighting over the La Poste
gazetteer), 30 schemes of Zipf-skewed popularity, 40 brands. Queries: origins drawn from the
sites themselves, radii 5/20/50/100 km, a common and a rare competence. The database parts
(fallback, lag) run at the smallest size only: they need the rows in the record, which this
script bulk-loads there. Results go to bench/results/search_bench.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
import msgspec
from sqlalchemy import insert

from bench.engine_replay import Engine, engine_sequence, reference_top
from certifications.catalogue import default_catalogue
from certifications.competences import Holding
from directory.db import make_engine, transaction, upgrade, utcnow
from directory.models import Attestation, Issuer, Organisation, OutboxEvent, Site
from directory.outbox.hooks import make_sessionmaker
from directory.outbox.sync import SyncWorker
from directory.profiles import demo
from search.documents import SiteDocument, SiteRecord, project
from search.engine import MeiliProcess
from search.geocode import default_gazetteer
from search.index import INDEX, IndexWriter, ensure_keys, ensure_settings

RESULTS = Path(__file__).parent / "results" / "search_bench.json"
ROOT = Path(__file__).resolve().parent.parent
RADII = (5, 20, 50, 100)
HOURS = [
    "Mo-Fr 08:00-12:00,14:00-18:00; Sa 08:00-12:00",
    "Mo-Fr 08:00-18:30",
    "Mo-Sa 08:00-19:00",
    "Tu-Sa 08:30-12:00,13:30-18:30",
]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def site_schemes() -> list[str]:
    """30 schemes, site-held (so a bulk-loaded record can carry them without technicians)."""
    cat = default_catalogue()
    site_level = [s for s in cat.schemes.values() if s.holder == "site"]
    person_level = [s for s in cat.schemes.values() if s.holder == "person"]
    return [s.id for s in site_level + person_level][:30]


def generate(n: int, seed: int) -> tuple[list[SiteRecord], dict[str, list[Holding]]]:
    rng = random.Random(seed)
    gaz = default_gazetteer()
    places = gaz.places("FR")
    weights = [pop for *_, pop in demo.CITIES]
    near: dict[str, list] = {}
    for name, lat, lng, pop in demo.CITIES:
        radius = 8 + math.sqrt(pop) / 3
        box = radius / 111 * 1.5
        near[name] = [p for p in places if abs(p[2] - lat) < box and abs(p[3] - lng) < box * 1.6]
    brands = [f"brand-{i:02d}" for i in range(40)]
    brand_w = [1 / (i + 1) for i in range(40)]
    schemes = site_schemes()
    scheme_w = [1 / (i + 1) ** 1.1 for i in range(len(schemes))]
    now = utcnow()
    records, holdings = [], {}
    for i in range(n):
        if rng.random() < 0.55:
            city = rng.choices(demo.CITIES, weights=weights)[0][0]
            postcode, commune, lat, lng = rng.choice(near[city])
        else:
            postcode, commune, lat, lng = rng.choice(places)
        sid = f"st_bench{i:08d}"
        records.append(
            SiteRecord(
                id=sid,
                version=1,
                name=f"Garage {i}",
                organisation=f"Garage {i} SARL",
                kind="independent",
                street=None,
                postcode=postcode,
                city=commune.title(),
                country="FR",
                lat=lat + rng.gauss(0, 0.01),
                lng=lng + rng.gauss(0, 0.014),
                timezone="Europe/Paris",
                opening_hours=rng.choice(HOURS),
                brands=sorted(set(rng.choices(brands, weights=brand_w, k=rng.randint(1, 3)))),
                vehicles=["car"],
                powertrains=["ice", "hev"],
                services=["diagnostics"],
                languages=["fr"],
                networks=[],
                status="active",
            )
        )
        held = set(rng.choices(schemes, weights=scheme_w, k=rng.choice((0, 0, 1, 2, 3))))
        holdings[sid] = [
            Holding(
                scheme=s,
                status="verified",
                holder_id=sid,
                issuer="is_bench",
                source=f"{sid}-{s}",
                valid_from=now - timedelta(days=100),
                valid_until=now + timedelta(days=rng.randint(10, 900)),
            )
            for s in held
        ]
    return records, holdings


def generated(n: int) -> tuple[list[SiteRecord], dict[str, list[Holding]], list[SiteDocument]]:
    """``n`` sites from ``generate`` (seeded by ``n``), their holdings, their documents now."""
    records, holdings = generate(n, seed=n)
    cat, now = default_catalogue(), datetime.now(UTC)
    return records, holdings, [project(r, holdings[r.id], cat, now) for r in records]


def queries(records: list[SiteRecord], schemes: list[str], count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        origin = rng.choice(records)
        params = {
            "lat": round(origin.lat, 5),
            "lng": round(origin.lng, 5),
            "radius_km": RADII[i % len(RADII)],
            "limit": 20,
        }
        which = (i // len(RADII)) % 3
        if which == 1:
            params["competence"] = schemes[0]  # the most common
        elif which == 2:
            params["competence"] = schemes[-1]  # a rare one
        out.append(params)
    return out


def time_calls(client: httpx.Client, calls: list, warm: int = 20) -> list[float]:
    for method, url, kw in calls[:warm]:
        client.request(method, url, **kw)
    out = []
    for method, url, kw in calls:
        started = time.perf_counter()
        reply = client.request(method, url, **kw)
        out.append((time.perf_counter() - started) * 1000)
        assert reply.status_code == 200, reply.text[:300]
    return out


def load_record(url: str, records: list[SiteRecord], holdings: dict[str, list[Holding]]) -> None:
    """Bulk-load the record (Core inserts: this is set-up, not what is measured)."""
    upgrade(url)
    engine = make_engine(url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(Issuer),
            [
                {
                    "id": "is_bench",
                    "name": "Bench",
                    "kind": "carmaker",
                    "schemes": [],
                    "status": "trusted",
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            ],
        )
        for start in range(0, len(records), 5000):
            part = records[start : start + 5000]
            conn.execute(
                insert(Organisation),
                [
                    {
                        "id": "org_" + r.id[3:],
                        "legal_name": r.organisation,
                        "kind": r.kind,
                        "status": "active",
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for r in part
                ],
            )
            conn.execute(
                insert(Site),
                [
                    {
                        "id": r.id,
                        "organisation_id": "org_" + r.id[3:],
                        "name": r.name,
                        "postcode": r.postcode,
                        "city": r.city,
                        "country": r.country,
                        "lat": r.lat,
                        "lng": r.lng,
                        "location_source": "provided",
                        "timezone": r.timezone,
                        "opening_hours": r.opening_hours,
                        "brands": r.brands,
                        "vehicles": r.vehicles,
                        "powertrains": r.powertrains,
                        "services": r.services,
                        "languages": r.languages,
                        "status": r.status,
                        "version": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for r in part
                ],
            )
            rows = [
                {
                    "jti": h.source,
                    "issuer_id": "is_bench",
                    "subject_id": r.id,
                    "holder": "site",
                    "scheme": h.scheme,
                    "kid": "k",
                    "issued_at": h.valid_from,
                    "valid_from": h.valid_from,
                    "valid_until": h.valid_until,
                    "token": "-",
                    "created_at": now,
                }
                for r in part
                for h in holdings[r.id]
            ]
            if rows:
                conn.execute(insert(Attestation), rows)
    engine.dispose()


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [str(Path(sys.executable).parent / "atelier"), "serve"],
        env={**os.environ, **env, "ATELIER_PORT": str(port), "ATELIER_LOG_LEVEL": "WARNING"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the API did not start")


def api_env(db_url: str, meili_url: str, keys, data_dir: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The environment of an `atelier serve` on a benchmark's own engine and database. One
    client sends every query: measure the service, not its rate limit (the count itself still
    runs on every request)."""
    return {
        "DATABASE_URL": db_url,
        "MEILI_URL": meili_url,
        "MEILI_SEARCH_KEY": keys.search,
        "MEILI_WRITE_KEY": keys.write,
        "ATELIER_SYNC": "external",
        "ATELIER_DATA_DIR": data_dir,
        "ATELIER_RATE_SEARCH_ANONYMOUS": "1000000",
    }


def run_size(n: int, with_record: bool, query_count: int, recall_count: int) -> dict:
    print(f"--- {n} sites", flush=True)
    records, holdings, docs = generated(n)
    docs_by_id = {d.id: d for d in docs}
    schemes = site_schemes()
    result: dict = {"sites": n}
    with tempfile.TemporaryDirectory() as tmp:
        meili = MeiliProcess(Path(tmp)).start()
        keys = ensure_keys(meili.url, meili.master_key)
        ensure_settings(meili.url, keys.write)
        writer = IndexWriter(meili.url, keys.write)
        started = time.perf_counter()
        client = writer.client
        tasks = []
        for start in range(0, n, 25_000):
            payload = msgspec.json.decode(msgspec.json.encode(docs[start : start + 25_000]))
            tasks.append(client.index(INDEX).add_documents(payload, primary_key="id").task_uid)
        for uid in tasks:
            task = client.wait_for_task(uid, timeout_in_ms=3_600_000, interval_in_ms=200)
            assert task.status == "succeeded", task.error
        result["index_build_s"] = round(time.perf_counter() - started, 1)
        print("build", result["index_build_s"], "s", flush=True)

        qs = queries(records, schemes, query_count, seed=1)
        db_url = f"sqlite:///{tmp}/bench.db"
        if with_record:
            load_record(db_url, records, holdings)
        else:
            upgrade(db_url)
        api = serve(api_env(db_url, meili.url, keys, tmp), 8765)
        try:
            engine = Engine(meili.url, keys.search)
            api_conn = http.client.HTTPConnection("127.0.0.1", 8765)

            def api_call(params: dict) -> float:
                # The same lean client for the API as for the engine: only the server differs.
                path = "/v1/search?" + urlencode(params)
                started = time.perf_counter()
                api_conn.request("GET", path)
                reply = api_conn.getresponse()
                content = reply.read()
                elapsed = (time.perf_counter() - started) * 1000
                assert reply.status == 200, content[:300]
                return elapsed

            with httpx.Client(timeout=30) as web:
                for p in qs[:20]:  # warm both
                    engine_sequence(engine, p)
                    api_call(p)
                # Interleave the two so machine noise hits both alike.
                engine_ms, api_ms = [], []
                for p in qs:
                    engine_ms.append(engine_sequence(engine, p))
                    api_ms.append(api_call(p))
                result["engine_ms"] = {
                    "p50": round(pct(engine_ms, 50), 2),
                    "p99": round(pct(engine_ms, 99), 2),
                }
                result["api_ms"] = {
                    "p50": round(pct(api_ms, 50), 2),
                    "p99": round(pct(api_ms, 99), 2),
                }
                by_radius = {}
                for radius in RADII:
                    sel = [i for i, p in enumerate(qs) if p["radius_km"] == radius]
                    by_radius[radius] = {
                        "engine_p50": round(pct([engine_ms[i] for i in sel], 50), 2),
                        "api_p50": round(pct([api_ms[i] for i in sel], 50), 2),
                    }
                result["by_radius_ms"] = by_radius
                print("latency", result["engine_ms"], result["api_ms"], flush=True)
                hits = 0
                for p in qs[:recall_count]:
                    got = [
                        i["id"]
                        for i in web.get("http://127.0.0.1:8765/v1/search", params=p).json()[
                            "items"
                        ]
                    ]
                    want = reference_top(records, docs_by_id, p)
                    hits += len(set(got) & set(want)) if want else 0
                    assert len(got) == len(want), (p, len(got), len(want))
                total = sum(len(reference_top(records, docs_by_id, p)) for p in qs[:recall_count])
                result["recall_at_20"] = round(hits / total, 4) if total else 1.0
                print("recall", result["recall_at_20"], flush=True)
        finally:
            api.send_signal(signal.SIGINT)
            api.wait(30)
        if with_record:
            result.update(database_parts(db_url, meili.url, keys, qs))
        meili.stop()
    return result


def database_parts(db_url: str, meili_url: str, keys, qs: list[dict]) -> dict:  # type: ignore[no-untyped-def]
    out: dict = {}
    api = serve(
        {
            "DATABASE_URL": db_url,
            "MEILI_URL": "http://127.0.0.1:9",  # unreachable
            "MEILI_SEARCH_KEY": "x",
            "MEILI_WRITE_KEY": "x",
            "ATELIER_SYNC": "external",
            "ATELIER_DATA_DIR": str(Path(db_url.split("///")[1]).parent),
        },
        8766,
    )
    try:
        with httpx.Client(timeout=120) as web:
            sample = [p for p in qs if p["radius_km"] <= 20][:40]
            ms = time_calls(
                web,
                [("GET", "http://127.0.0.1:8766/v1/search", {"params": p}) for p in sample],
                warm=2,
            )
            out["database_fallback_ms_radius_le_20km"] = {
                "p50": round(pct(ms, 50), 1),
                "p99": round(pct(ms, 99), 1),
            }
            print("fallback", out["database_fallback_ms_radius_le_20km"], flush=True)
    finally:
        api.send_signal(signal.SIGINT)
        api.wait(30)
    sessions = make_sessionmaker(make_engine(db_url))
    with transaction(sessions) as s:
        s.query(OutboxEvent).delete()
    worker = SyncWorker(
        sessions, IndexWriter(meili_url, keys.write), default_catalogue(), idle_s=0.005
    ).start()
    lags = []
    try:
        with httpx.Client(timeout=10) as web:
            # The engine's first batch after opening an index is slow (about 2 s, once): the
            # figures are for the steady state, after three warm-up updates.
            for i in range(63):
                sid = f"st_bench{i * 7:08d}"
                name = f"Renamed {i} {time.time_ns()}"
                with transaction(sessions) as s:
                    s.get(Site, sid).name = name  # type: ignore[union-attr]
                committed = time.perf_counter()
                while True:
                    reply = web.post(
                        f"{meili_url}/indexes/{INDEX}/search",
                        headers={
                            "Authorization": f"Bearer {keys.search}",
                            "Accept-Encoding": "identity",
                        },
                        json={"q": "", "filter": f'id = "{sid}"', "attributesToRetrieve": ["name"]},
                    )
                    hits = reply.json()["hits"]
                    if hits and hits[0]["name"] == name:
                        break
                    time.sleep(0.002)
                if i >= 3:
                    lags.append((time.perf_counter() - committed) * 1000)
    finally:
        worker.stop()
    out["commit_to_searchable_ms"] = {
        "p50": round(pct(lags, 50), 1),
        "p99": round(pct(lags, 99), 1),
        "mean": round(statistics.mean(lags), 1),
    }
    print("lag", out["commit_to_searchable_ms"], flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--recall-queries", type=int, default=60)
    args = parser.parse_args()
    runs = []
    for i, n in enumerate(sorted(args.sizes)):
        runs.append(
            run_size(
                n, with_record=i == 0, query_count=args.queries, recall_count=args.recall_queries
            )
        )
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(json.dumps(runs, indent=2))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
