"""Access costs, one run each: the argon2id login (hash check alone, and POST /v1/auth/login end
to end), the rate-limit check added to every request, and the change feed read by an
integration (first read, which numbers the events, and a re-read).

    .venv/bin/python bench/access_bench.py --db sqlite \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres --events 50000

Writes bench/results/access_bench.json. The PostgreSQL database named is emptied first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import insert, text

from directory.accounts import service as accounts
from directory.app import create_app
from directory.db import make_engine, transaction, upgrade, utcnow
from directory.gate import keys, ratelimit
from directory.models import Account, OutboxEvent
from directory.outbox.hooks import make_sessionmaker
from directory.settings import load_settings

RESULTS = Path(__file__).parent / "results" / "access_bench.json"
PASSWORD = "violet harbour engine 42"  # noqa: S105 - a sample account for the benchmark


def _ms(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1000, 2),
    }


def _database(spec: str, workdir: Path) -> str:
    if spec == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(spec)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return spec


def run(url: str, workdir: Path, events: int, logins: int) -> dict[str, object]:
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    settings = load_settings(
        {
            "DATABASE_URL": url,
            "ATELIER_DATA_DIR": str(workdir),
            "ATELIER_RATE_AUTH": "1000000",
            "ATELIER_RATE_AUTHENTICATED": "1000000",
        }
    )
    out: dict[str, object] = {
        "hasher": {
            "type": "argon2id",
            "time_cost": accounts.HASHER.time_cost,
            "memory_kib": accounts.HASHER.memory_cost,
            "parallelism": accounts.HASHER.parallelism,
        }
    }
    hashed = accounts.HASHER.hash(PASSWORD)
    checks = []
    for _ in range(logins):
        started = time.perf_counter()
        accounts.HASHER.verify(hashed, PASSWORD)
        checks.append(time.perf_counter() - started)
    out["argon2_verify"] = _ms(checks)

    with transaction(sessions) as session:
        session.add(Account(email="bench@garage.fr", password_hash=hashed, verified_at=utcnow()))
        secret = keys.create_key(session, "bench", ["changes"])[1]
    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        spent = []
        for _ in range(logins):
            started = time.perf_counter()
            reply = client.post(
                "/v1/auth/login", json={"email": "bench@garage.fr", "password": PASSWORD}
            )
            spent.append(time.perf_counter() - started)
            assert reply.status_code == 200, reply.text
        out["login_end_to_end"] = _ms(spent)

        # The rate-limit statement alone (one upsert in its own transaction), as each request
        # pays it inside the transaction that also resolves the caller.
        spent = []
        for i in range(2000):
            started = time.perf_counter()
            with transaction(sessions) as session:
                ratelimit.hit(session, f"bench:{i % 50}", 1_000_000)
            spent.append(time.perf_counter() - started)
        out["rate_limit_check"] = _ms(spent)

        # The change feed: events written in bulk (the feed reads the outbox, whatever wrote
        # it), then paged through by an integration, 1000 at a time.
        with transaction(sessions) as session:
            now = utcnow()
            rows = [
                {"entity": "site", "entity_id": f"st_{i:012d}", "op": "update", "created_at": now}
                for i in range(events)
            ]
            for start in range(0, events, 5000):
                session.execute(insert(OutboxEvent), rows[start : start + 5000])
        headers = {"Authorization": f"Bearer {secret}"}
        for label in ("change_feed_first_read", "change_feed_reread"):
            cursor, seen = "0", 0
            started = time.perf_counter()
            while True:
                page = client.get(
                    "/v1/changes", params={"after": cursor, "limit": 1000}, headers=headers
                ).json()
                if not page["items"]:
                    break
                seen += len(page["items"])
                cursor = page["next_cursor"]
            elapsed = time.perf_counter() - started
            assert seen == events, (seen, events)
            out[label] = {
                "events": seen,
                "events_per_s": round(seen / elapsed),
                "s": round(elapsed, 2),
            }
            if label == "change_feed_first_read":
                cursor = "0"
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", action="append", default=None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--logins", type=int, default=30)
    args = parser.parse_args()
    results: dict[str, object] = {}
    for spec in args.db or ["sqlite"]:
        with tempfile.TemporaryDirectory() as tmp:
            name = "sqlite" if spec == "sqlite" else "postgresql"
            results[name] = run(_database(spec, Path(tmp)), Path(tmp), args.events, args.logins)
            print(name, json.dumps(results[name], indent=1))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
