"""Outbox → index: the sync worker, the full rebuild, and the projection of sites for search.

At-least-once: rows are marked done only after Meilisearch has applied the batch; a crash
replays them, and since every document is rebuilt from the record, a replay changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from certifications.catalogue import Catalogue
from directory.db import transaction, utcnow
from directory.models import (
    Attestation,
    Claim,
    Membership,
    Network,
    Organisation,
    OutboxEvent,
    Site,
    Technician,
)
from directory.trust.service import holdings_for
from search.documents import SiteDocument, SiteRecord, project
from search.errors import EngineRefused, EngineUnavailable
from search.index import INDEX, IndexWriter, ensure_settings

__all__ = [
    "SyncWorker",
    "documents_for",
    "list_parked",
    "reindex",
    "replay_parked",
    "run_once",
]

log = logging.getLogger("atelier.sync")
MAX_ATTEMPTS = 8  # refusals by the engine before an event is parked as poison
# While the engine is away, events are tried again this often; an outage never parks them.
OUTAGE_RETRY_S = 3.0
UNAVAILABLE = "unavailable: "


_RECORD_COLUMNS = (
    Site.id,
    Site.version,
    Site.name,
    Site.street,
    Site.postcode,
    Site.city,
    Site.country,
    Site.lat,
    Site.lng,
    Site.timezone,
    Site.opening_hours,
    Site.brands,
    Site.vehicles,
    Site.powertrains,
    Site.services,
    Site.languages,
    Site.status,
    Site.phone,
)


def _records(session: Session, site_ids: Iterable[str]) -> list[SiteRecord]:
    ids = list(site_ids)
    # The columns a document needs, not Site objects: building ORM objects was most of a
    # rebuild's time (bench/lag_bench.py).
    rows = session.execute(
        select(
            *_RECORD_COLUMNS, Organisation.trade_name, Organisation.legal_name, Organisation.kind
        )
        .join(Organisation)
        .where(Site.id.in_(ids))
    ).all()
    networks: dict[str, list[str]] = {}
    private: dict[str, list[str]] = {}
    for network_id, site_id, visibility in session.execute(
        select(Membership.network_id, Membership.site_id, Network.visibility)
        .join(Network, Network.id == Membership.network_id)
        .where(Membership.site_id.in_(ids))
    ):
        into = networks if visibility == "public" else private
        into.setdefault(site_id, []).append(network_id)
    return [
        SiteRecord(
            id=s.id,
            version=s.version,
            name=s.name,
            organisation=s.trade_name or s.legal_name,
            kind=s.kind,
            street=s.street,
            postcode=s.postcode,
            city=s.city,
            country=s.country,
            lat=s.lat,
            lng=s.lng,
            timezone=s.timezone,
            opening_hours=s.opening_hours,
            brands=s.brands,
            vehicles=s.vehicles,
            powertrains=s.powertrains,
            services=s.services,
            languages=s.languages,
            networks=sorted(networks.get(s.id, [])),
            private_networks=sorted(private.get(s.id, [])),
            status=s.status,
            phone=s.phone,
        )
        for s in rows
    ]


def documents_for(
    session: Session, catalogue: Catalogue, site_ids: Iterable[str], now: datetime | None = None
) -> tuple[list[SiteDocument], list[str]]:
    """Documents for the sites still public, and the ids to remove (closed or gone)."""
    now = now or utcnow()
    ids = sorted(set(site_ids))
    records = _records(session, ids)
    holdings = holdings_for(session, [r.id for r in records])
    docs = [
        project(r, holdings.get(r.id, []), catalogue, now) for r in records if r.status != "closed"
    ]
    kept = {d.id for d in docs}
    return docs, [i for i in ids if i not in kept]


def affected_sites(session: Session, events: list[OutboxEvent]) -> set[str]:
    """The sites whose documents an event changes (organisations and issuers fan out)."""
    by_kind: dict[str, set[str]] = {}
    for e in events:
        by_kind.setdefault(e.entity, set()).add(e.entity_id)
    sites = set(by_kind.get("site", set()))
    if networks := by_kind.get("network"):
        # A network turning private or public moves its members between the two fields.
        sites |= set(
            session.scalars(select(Membership.site_id).where(Membership.network_id.in_(networks)))
        )
    if orgs := by_kind.get("organisation"):
        sites |= set(session.scalars(select(Site.id).where(Site.organisation_id.in_(orgs))))
    if techs := by_kind.get("technician"):
        sites |= set(session.scalars(select(Technician.site_id).where(Technician.id.in_(techs))))
    if claims := by_kind.get("claim"):
        sites |= set(session.scalars(select(Claim.site_id).where(Claim.id.in_(claims))))
    subjects: set[str] = set()
    if jtis := by_kind.get("attestation"):
        subjects |= set(
            session.scalars(select(Attestation.subject_id).where(Attestation.jti.in_(jtis)))
        )
    if issuers := by_kind.get("issuer"):
        subjects |= set(
            session.scalars(
                select(Attestation.subject_id).where(Attestation.issuer_id.in_(issuers))
            )
        )
    if subjects:
        sites |= {s for s in subjects if s.startswith("st_")}
        techs_of = [s for s in subjects if s.startswith("tc_")]
        if techs_of:
            sites |= set(
                session.scalars(select(Technician.site_id).where(Technician.id.in_(techs_of)))
            )
    return sites


def _claim(session: Session, limit: int, now: datetime) -> list[OutboxEvent]:
    stmt = (
        select(OutboxEvent)
        .where(
            OutboxEvent.processed_at.is_(None),
            OutboxEvent.parked_at.is_(None),
            (OutboxEvent.available_at.is_(None)) | (OutboxEvent.available_at <= now),
        )
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        # Several workers side by side: each takes rows no other holds.
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def _lock_sites(session: Session, site_ids: set[str]) -> set[str]:
    """On PostgreSQL, one worker at a time builds a given site's document (so an older build
    can never land after a newer one); the sites another worker holds wait for a later pass."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return site_ids
    held = set()
    for site_id in sorted(site_ids):
        if session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:k))"), {"k": site_id}
        ).scalar():
            held.add(site_id)
    return held


def run_once(
    sessions: sessionmaker[Session], writer: IndexWriter, catalogue: Catalogue, limit: int = 500
) -> int:
    """One batch: claim, rebuild, send, wait, mark. Returns the events handled.

    On PostgreSQL the claim (row locks, SKIP LOCKED) is held while Meilisearch applies the
    batch, so side-by-side workers never take the same rows. SQLite has one writer for the
    whole file and one worker: there the batch is read, sent, then marked in a second
    transaction, so API writes are not held up while the engine works.
    """
    now = utcnow()
    with sessions() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        with transaction(sessions) as session:
            batch = _prepare(session, catalogue, limit, now)
            if not batch.ids:
                return 0
            return _mark(session, batch, *_write(writer, batch), now)
    with transaction(sessions) as session:
        batch = _prepare(session, catalogue, limit, now)
    if not batch.ids:
        return 0
    outcome = _write(writer, batch)
    with transaction(sessions) as session:
        return _mark(session, batch, *outcome, now)


class _Batch:
    def __init__(
        self,
        ids: list[int],
        docs: list[SiteDocument],
        deletions: list[str],
        refused: dict[str, str],
    ) -> None:
        self.ids, self.docs, self.deletions, self.refused = ids, docs, deletions, refused


def _prepare(session: Session, catalogue: Catalogue, limit: int, now: datetime) -> _Batch:
    events = _claim(session, limit, now)
    if not events:
        return _Batch([], [], [], {})
    wanted = affected_sites(session, events)
    sites = _lock_sites(session, wanted)
    if sites != wanted:
        # Another worker is building some of these sites: leave their events for later.
        events = [e for e in events if affected_sites(session, [e]) <= sites]
    refused: dict[str, str] = {}
    try:
        docs, deletions = documents_for(session, catalogue, sites, now)
    except Exception:  # noqa: BLE001 - find the site that cannot be projected, spare the rest
        docs, deletions = [], []
        for site_id in sorted(sites):
            try:
                one, gone = documents_for(session, catalogue, [site_id], now)
            except Exception as err:  # noqa: BLE001
                refused[site_id] = f"cannot build the document: {err!r}"[:2000]
                continue
            docs += one
            deletions += gone
    return _Batch([e.id for e in events], docs, deletions, refused)


def _write(writer: IndexWriter, batch: _Batch) -> tuple[str | None, dict[str, str]]:
    """Send the batch: (an error that concerns all of it, the documents refused one by one).
    An error that starts with UNAVAILABLE is the engine being away, not the batch being bad."""
    try:
        writer.apply(batch.docs, batch.deletions)
        return None, {}
    except EngineUnavailable as err:
        return f"{UNAVAILABLE}{err}", {}
    except EngineRefused as err:
        if len(batch.docs) <= 1:
            return str(err), {}
    # The engine refused the batch: send documents one at a time to find the culprit(s).
    refused: dict[str, str] = {}
    for doc in batch.docs:
        try:
            writer.apply([doc], [])
        except EngineUnavailable as err:
            return f"{UNAVAILABLE}{err}", {}
        except EngineRefused as err:
            refused[doc.id] = str(err)
    try:
        writer.apply([], batch.deletions)
    except EngineUnavailable as err:
        return f"{UNAVAILABLE}{err}", {}
    except EngineRefused as err:
        return str(err), {}
    return None, refused


def _mark(
    session: Session, batch: _Batch, error: str | None, refused: dict[str, str], now: datetime
) -> int:
    if error is not None and error.startswith(UNAVAILABLE):
        # The engine is away: nothing is wrong with these events. They wait and are tried
        # again, however long the outage, and never parked for it.
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id.in_(batch.ids))
            .values(last_error=error[:2000], available_at=now + timedelta(seconds=OUTAGE_RETRY_S))
        )
        log.warning("search engine unavailable", extra={"events": len(batch.ids), "error": error})
        return 0
    if error is not None:
        _failed(session, batch.ids, error, now)
        log.warning("index write failed", extra={"events": len(batch.ids), "error": error})
        return 0
    refused = {**batch.refused, **refused}
    failed: dict[int, str] = {}
    if refused:
        for event in session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(batch.ids))):
            hit = affected_sites(session, [event]) & set(refused)
            if hit:
                failed[event.id] = "; ".join(f"{s}: {refused[s]}" for s in sorted(hit))
        for event_id, reason in failed.items():
            _failed(session, [event_id], reason, now)
        log.warning("documents refused", extra={"sites": sorted(refused)})
    done = [i for i in batch.ids if i not in failed]
    if done:
        session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(done)).values(processed_at=utcnow())
        )
    return len(done) or len(batch.ids)  # a pass that parked or delayed rows still progressed


def _failed(session: Session, ids: list[int], error: str, now: datetime) -> None:
    for event in session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_(ids))):
        event.attempts += 1
        event.last_error = error[:2000]
        # Exponential backoff: 1 s, 2 s, 4 s … then parked for an operator to look at.
        event.available_at = now + timedelta(seconds=2 ** (event.attempts - 1))
        if event.attempts >= MAX_ATTEMPTS:
            event.parked_at = now


def list_parked(session: Session, limit: int = 1000) -> list[OutboxEvent]:
    """Events set aside, oldest first, with the reason each carries."""
    stmt = (
        select(OutboxEvent)
        .where(OutboxEvent.processed_at.is_(None), OutboxEvent.parked_at.is_not(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def replay_parked(
    session: Session, ids: Iterable[int] | None = None, *, unavailable_only: bool = False
) -> int:
    """Put parked events back in line (all, these ids, or those parked because the engine was
    away); the worker sends them on its next pass. Returns how many."""
    stmt = (
        update(OutboxEvent)
        .where(OutboxEvent.processed_at.is_(None), OutboxEvent.parked_at.is_not(None))
        .values(parked_at=None, attempts=0, available_at=None)
    )
    if ids is not None:
        stmt = stmt.where(OutboxEvent.id.in_(list(ids)))
    if unavailable_only:
        stmt = stmt.where(OutboxEvent.last_error.like(UNAVAILABLE + "%"))
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


class SyncWorker:
    """Runs run_once in a thread until stopped (embedded mode runs one inside the service)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        writer: IndexWriter,
        catalogue: Catalogue,
        idle_s: float = 0.05,
    ) -> None:
        self.sessions, self.writer, self.catalogue, self.idle_s = (
            sessions,
            writer,
            catalogue,
            idle_s,
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="atelier-sync", daemon=True)

    def start(self) -> SyncWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        replayed = False
        while not self._stop.is_set():
            try:
                if not replayed:
                    # Once per start: events an older version parked while the engine was away
                    # go back in line (an outage parks nothing any more).
                    with transaction(self.sessions) as session:
                        if count := replay_parked(session, unavailable_only=True):
                            log.info("parked events replayed", extra={"events": count})
                    replayed = True
                handled = run_once(self.sessions, self.writer, self.catalogue)
            except Exception:  # noqa: BLE001 - the database may be briefly away: retry
                log.exception("sync pass failed")
                handled = 0
            if not handled:
                self._stop.wait(self.idle_s)


# A rebuild sends this many documents a task, and queues this many tasks ahead of the engine.
# The engine's cost a document falls as its batches grow (the fixed part of a batch grows with
# the index): waiting for every 2,000 documents rebuilt 1M sites in 1,140 s.
SEND_SITES = 25_000
QUEUED_SENDS = 2


def reindex(
    sessions: sessionmaker[Session],
    writer: IndexWriter,
    catalogue: Catalogue,
    chunk: int = 2000,
    on_progress: Callable[[int], object] | None = None,
) -> int:
    """Build a fresh index from the record, swap it in atomically, then replay what changed
    while it was built. Searches keep using the old index until the swap."""
    with transaction(sessions) as session:
        mark = session.scalar(select(func.max(OutboxEvent.id))) or 0
        ids = list(
            session.scalars(select(Site.id).where(Site.status != "closed").order_by(Site.id))
        )
    building = f"{INDEX}_build_{int(time.time())}"
    ensure_settings(writer.url, writer.key, building)
    # The record is read ``chunk`` sites at a time (a bounded IN list) while the engine indexes
    # what was sent before.
    pending: list[SiteDocument] = []
    read = 0  # sites read into ``pending``
    queued: deque[tuple[int, int]] = deque()  # (task uid, sites)
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        with transaction(sessions) as session:
            docs, _ = documents_for(session, catalogue, part)
        pending += docs
        read += len(part)
        last = start + chunk >= len(ids)
        if pending and (len(pending) >= SEND_SITES or last):
            queued.append((writer.send(pending, index=building), read))
            pending, read = [], 0
        while queued and (len(queued) > QUEUED_SENDS or last):
            uid, sites = queued.popleft()
            writer.wait(uid)
            if on_progress:
                on_progress(sites)
    ensure_settings(writer.url, writer.key, INDEX)  # the swap needs both to exist
    writer.swap(INDEX, building)
    writer.drop(building)
    # Changes committed during the build went to the old index: apply them to the new one.
    with transaction(sessions) as session:
        late = list(session.scalars(select(OutboxEvent).where(OutboxEvent.id > mark)))
        if late:
            docs, deletions = documents_for(session, catalogue, affected_sites(session, late))
            writer.apply(docs, deletions)
    return len(ids)
