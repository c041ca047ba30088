"""A real engine outage during writes, with the service's own retry timing: 50 sites, one write
every half second while the engine is down, then the engine started again. Prints and records
the events parked (must be 0), the documents stale once the index has caught up (must be 0)
and how long it took.

    .venv/bin/python bench/outage.py --seconds 180

Writes bench/results/outage.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import msgspec
from sqlalchemy import select

from certifications.catalogue import default_catalogue
from directory.db import make_engine, transaction, upgrade
from directory.models import OutboxEvent, Site
from directory.outbox.hooks import make_sessionmaker
from directory.outbox.sync import SyncWorker, list_parked
from directory.profiles import service as profiles
from directory.profiles.schemas import OrganisationCreate, SiteCreate
from search.engine import MeiliProcess
from search.geocode import default_gazetteer
from search.index import INDEX, IndexWriter, ensure_keys, ensure_settings

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=180.0, help="how long the engine stays down")
args = parser.parse_args()
tmp = Path(tempfile.mkdtemp())
url = f"sqlite:///{tmp}/o.db"
upgrade(url)
sessions = make_sessionmaker(make_engine(url))
gaz = default_gazetteer()
proc = MeiliProcess(tmp / "engine").start()
keys = ensure_keys(proc.url, proc.master_key)
ensure_settings(proc.url, keys.write)
writer = IndexWriter(proc.url, keys.write)
ids = []
with transaction(sessions) as s:
    for i in range(50):
        org = profiles.create_organisation(
            s, OrganisationCreate(legal_name=f"G{i} SARL", kind="independent")
        )
        site = profiles.create_site(
            s,
            gaz,
            org.id,
            msgspec.convert(
                {
                    "name": f"G{i}",
                    "address": {"city": "Lyon", "country": "FR"},
                    "location": {"lat": 45.7, "lng": 4.8},
                },
                SiteCreate,
            ),
        )
        ids.append(site.id)
worker = SyncWorker(sessions, writer, default_catalogue()).start()


def pending():
    with sessions() as s:
        return len(
            s.scalars(select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None))).all()
        )


def stale():
    with sessions() as s:
        record = {x.id: (x.name, x.version) for x in s.scalars(select(Site))}
    docs = (
        writer.client.index(INDEX)
        .get_documents({"limit": 1000, "fields": ["id", "name", "v"]})
        .results
    )
    got = {d.id: (d.name, d.v) for d in docs}
    return sum(1 for k, v in record.items() if got.get(k) != v)


while pending():
    time.sleep(0.2)
proc.kill()
started = time.monotonic()
writes = 0
while time.monotonic() - started < args.seconds:
    with transaction(sessions) as s:
        site = s.get(Site, ids[writes % 50])
        site.name = f"G{writes % 50} w{writes}"
    writes += 1
    time.sleep(0.5)
with sessions() as s:
    parked = len(list_parked(s))
print("writes during outage", writes, "parked", parked, "pending", pending(), flush=True)
proc = MeiliProcess(tmp / "engine", port=proc.port, master_key=proc.master_key).start()
back = time.monotonic()
while pending() or stale():
    time.sleep(0.1)
result = {
    "outage_s": args.seconds,
    "writes": writes,
    "parked": parked,
    "stale_after": stale(),
    "converged_s": round(time.monotonic() - back, 2),
}
print(json.dumps(result))
worker.stop()
proc.stop()
out = Path(__file__).parent / "results" / "outage.json"
out.write_text(json.dumps(result, indent=1) + "\n")
