"""Engine outages, with the real engine killed: the managed engine comes back by itself, and an
outage however long parks nothing — once the engine answers, every document equals its record
within seconds, with no operator action."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certifications.catalogue import default_catalogue
from directory.db import transaction
from directory.models import OutboxEvent, Site
from directory.outbox import sync
from directory.outbox.sync import MAX_ATTEMPTS, SyncWorker, list_parked, replay_parked
from search.engine import MeiliProcess, is_healthy
from search.index import INDEX, IndexWriter
from tests.conftest import writer_for
from tests.searching.test_search import add_site


def _wait(condition, seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``condition()`` held; fails the test past ``seconds``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, "not within the time allowed"
        time.sleep(0.1)
    return time.monotonic() - started


def _pending(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return len(
            s.scalars(select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None))).all()
        )


def _stale(sessions: sessionmaker[Session], writer: IndexWriter) -> list[str]:
    """Sites whose document in the index does not carry the record's name and version."""
    with sessions() as s:
        record = {site.id: (site.name, site.version) for site in s.scalars(select(Site))}
    docs = writer.client.index(INDEX).get_documents({"limit": 1000, "fields": ["id", "name", "v"]})
    indexed = {d.id: (d.name, d.v) for d in docs.results}
    assert record  # a comparison over something
    return sorted(sid for sid, want in record.items() if indexed.get(sid) != want)


def _rename_all(sessions: sessionmaker[Session], sites: list[str], suffix: str) -> None:
    with transaction(sessions) as s:
        for sid in sites:
            site = s.get(Site, sid)
            assert site is not None
            site.name = f"{site.name.split(' ~')[0]} ~{suffix}"


def test_the_managed_engine_is_restarted_when_it_dies(sessions, gazetteer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = MeiliProcess(tmp_path / "engine").start().supervise(poll_s=0.1)
    try:
        writer = writer_for(proc)
        sites = [add_site(sessions, gazetteer, f"Site {i}", 45.7 + i / 100, 4.8) for i in range(5)]
        worker = SyncWorker(sessions, writer, default_catalogue(), idle_s=0.02).start()
        try:
            first = proc._proc.pid  # type: ignore[union-attr]
            proc.kill()
            _rename_all(sessions, sites, "during")
            _wait(lambda: proc.restarts == 1 and is_healthy(proc.url, timeout=0.5), 30)
            assert proc._proc is not None and proc._proc.pid != first
            _wait(lambda: _pending(sessions) == 0 and not _stale(sessions, writer), 30)
        finally:
            worker.stop()
    finally:
        proc.stop()


def test_an_outage_longer_than_any_retry_budget_converges_without_an_operator(  # type: ignore[no-untyped-def]
    sessions, gazetteer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Retries every 50 ms instead of every 3 s, so the outage below outlasts many times the
    # MAX_ATTEMPTS rounds that once parked every event, in a few seconds of test.
    monkeypatch.setattr(sync, "OUTAGE_RETRY_S", 0.05)
    proc = MeiliProcess(tmp_path / "engine").start()
    writer = writer_for(proc)
    sites = [add_site(sessions, gazetteer, f"Site {i}", 45.7 + i / 100, 4.8) for i in range(10)]
    worker = SyncWorker(sessions, writer, default_catalogue(), idle_s=0.02).start()
    try:
        _wait(lambda: _pending(sessions) == 0, 30)
        proc.kill()  # unsupervised: it stays down until started again below
        _rename_all(sessions, sites, "outage")
        time.sleep(MAX_ATTEMPTS * 2 * 0.05 * 4)  # well past the rounds that used to park
        with sessions() as s:
            tried = s.scalars(select(OutboxEvent).where(OutboxEvent.processed_at.is_(None))).all()
            assert tried and all((e.last_error or "").startswith(sync.UNAVAILABLE) for e in tried)
            assert list_parked(s) == []  # nothing set aside for an operator
        proc = MeiliProcess(tmp_path / "engine", port=proc.port, master_key=proc.master_key).start()
        took = _wait(lambda: _pending(sessions) == 0 and not _stale(sessions, writer), 15)
        assert took < 15
    finally:
        worker.stop()
        proc.stop()


def test_events_parked_while_the_engine_was_away_are_replayed(sessions, gazetteer) -> None:  # type: ignore[no-untyped-def]
    """As an older version left them: the organisation's event parked for an outage, the
    site's for a refused document. The worker's replay takes the first only; an operator's
    replay (``atelier outbox replay ID``) takes what it names."""
    site = add_site(sessions, gazetteer, "Parked", 45.7, 4.8)
    with transaction(sessions) as s:
        events = s.scalars(select(OutboxEvent)).all()
        assert {e.entity for e in events} == {"organisation", "site"}
        for e in events:
            e.parked_at, e.attempts = e.created_at, 8
            e.last_error = (
                "task failed: invalid document" if e.entity == "site" else sync.UNAVAILABLE + "x"
            )
    with transaction(sessions) as s:
        assert len(list_parked(s)) == 2
        assert replay_parked(s, unavailable_only=True) == 1
    with transaction(sessions) as s:
        (poison,) = list_parked(s)
        assert poison.entity_id == site
        assert replay_parked(s, [poison.id]) == 1
    with sessions() as s:
        assert list_parked(s) == []
    assert _pending(sessions) == 2
