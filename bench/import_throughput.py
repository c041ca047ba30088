"""Import throughput: N generated sites through the real importer, on SQLite and/or PostgreSQL.

    .venv/bin/python bench/import_throughput.py --rows 100000 \
        --db sqlite --db postgresql+psycopg://postgres@127.0.0.1:5432/test

Writes bench/results/import_throughput.json. The PostgreSQL database is emptied first: name a
scratch database.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from directory.db import make_engine, upgrade
from directory.outbox.hooks import make_sessionmaker
from directory.profiles import demo
from directory.profiles.importer import COLUMNS, import_file
from search.geocode import default_gazetteer

RESULTS = Path(__file__).parent / "results" / "import_throughput.json"


def write_file(rows: int, folder: Path) -> Path:
    records = demo.generate(default_gazetteer(), rows, seed=11)
    path = folder / "bench.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i, rec in enumerate(records):
            rec = {k: v for k, v in rec.items() if k in COLUMNS}
            if i % 2:  # half the rows rely on the geocoder, as real imports do
                rec.pop("lat")
                rec.pop("lng")
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return path


def run(url: str, path: Path) -> dict[str, float]:
    if url.startswith("postgresql"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    gazetteer = default_gazetteer()
    started = time.perf_counter()
    first = import_file(sessions, gazetteer, path, "bench")
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    again = import_file(sessions, gazetteer, path, "bench")
    again_s = time.perf_counter() - started
    assert first.imported == again.unchanged and not first.rejected, first.summary()
    return {
        "rows": first.imported,
        "first_import_s": round(first_s, 2),
        "first_import_sites_per_s": round(first.imported / first_s, 1),
        "repeat_import_s": round(again_s, 2),
        "repeat_import_sites_per_s": round(again.unchanged / again_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument(
        "--db",
        action="append",
        default=[],
        help="'sqlite' (a fresh temporary file) or a database URL; repeatable",
    )
    args = parser.parse_args()
    results: dict[str, object] = {
        "machine": f"{platform.machine()} {platform.python_version()}",
        "rows": args.rows,
        "runs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = write_file(args.rows, Path(tmp))
        for db in args.db or ["sqlite"]:
            url = f"sqlite:///{tmp}/bench.db" if db == "sqlite" else db
            name = "sqlite" if db == "sqlite" else "postgresql"
            results["runs"][name] = run(url, path)  # type: ignore[index]
            print(name, results["runs"][name])  # type: ignore[index]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
