"""Rate limits: shared by every worker process, answered with 429 + Retry-After + RateLimit-*,
and not fooled by a client's own X-Forwarded-For."""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from directory.db import transaction
from directory.gate import ratelimit
from directory.models import AuthSession, RateBucket
from tests.conftest import PASSWORD

ATELIER = str(Path(sys.executable).with_name("atelier"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603 - our own CLI
        [ATELIER, "serve"],
        env={**os.environ, **env, "ATELIER_PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"server on {port} did not start: {log.read_text()[-2000:]}")


def test_two_worker_processes_share_one_budget(
    database_url: str, tmp_path: Path, meili, meili_keys, engine, sessions
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "ATELIER_DATA_DIR": str(tmp_path),
        "MEILI_URL": meili.url,
        "MEILI_SEARCH_KEY": meili_keys.search,
        "MEILI_WRITE_KEY": meili_keys.write,
        "ATELIER_SYNC": "external",
        "ATELIER_RATE_SEARCH_ANONYMOUS": "10",
    }
    ports = [_free_port(), _free_port()]
    procs = [_serve(env, p, tmp_path / f"serve-{p}.log") for p in ports]
    try:
        answers = []
        for i in range(16):
            port = ports[i % 2]  # alternate: a per-process counter would allow 10 on each
            answers.append(
                httpx.get(
                    f"http://127.0.0.1:{port}/v1/search",
                    params={"lat": 45.76, "lng": 4.83},
                    # A scraper making up a new address each time buys nothing: no proxy is
                    # trusted, so the header is ignored.
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                    timeout=10,
                )
            )
        codes = [a.status_code for a in answers]
        assert codes.count(200) == 10, codes
        assert codes[10:] == [429] * 6
        limited = answers[-1]
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert limited.headers["ratelimit-limit"] == "10"
        assert limited.headers["ratelimit-remaining"] == "0"
        assert answers[0].headers["ratelimit-remaining"] == "9"
        # Other routes and other clients draw from their own buckets.
        assert httpx.get(f"http://127.0.0.1:{ports[0]}/v1/competences").status_code == 200
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def test_the_bucket_refills_at_the_configured_pace(sessions: sessionmaker[Session]) -> None:
    now = 1_800_000_000.0
    with transaction(sessions) as session:
        verdicts = [ratelimit.hit(session, "t", 6, now) for _ in range(7)]
    assert [v.allowed for v in verdicts] == [True] * 6 + [False]
    assert verdicts[-1].retry_after_s == 10  # one request every 60 / 6 s
    with transaction(sessions) as session:
        assert not ratelimit.hit(session, "t", 6, now + 9).allowed
        assert ratelimit.hit(session, "t", 6, now + 10).allowed
        assert ratelimit.purge(session, now + 69) == 0  # not full yet (TAT = now + 70)
        assert ratelimit.purge(session, now + 71) == 1  # full again: the row goes


PROXY = ("10.0.0.0/8",)
address = st.ip_addresses(v=4).map(str)


@given(st.lists(address, max_size=5), address)
def test_only_a_trusted_proxy_is_believed(spoofed: list[str], real: str) -> None:
    # Behind our proxy: whatever the client wrote itself (left), the proxy appends the
    # address it saw (right); that one is what counts, unless it is itself a proxy address.
    header = ", ".join([*spoofed, real])
    got = ratelimit.client_address("10.1.2.3", header, PROXY)
    if not real.startswith("10."):
        assert got == real
    # Straight from the internet, the header is ignored whatever it says.
    assert ratelimit.client_address("198.51.100.7", header, PROXY) == "198.51.100.7"
    assert ratelimit.client_address("10.1.2.3", header, ()) == "10.1.2.3"


@pytest.mark.parametrize("junk", ["", "unknown", "not-an-ip, ", "999.1.1.1"])
def test_garbage_forwarded_headers_count_against_the_proxy(junk: str) -> None:
    assert ratelimit.client_address("10.1.2.3", junk, PROXY) == "10.1.2.3"


def test_guessing_one_accounts_password_from_many_addresses_is_limited_not_locked(
    client, repairer, sessions, settings
) -> None:  # type: ignore[no-untyped-def]
    repairer("target@garage.fr")
    # The owner's earlier log-in was from their usual address, not the test client's.
    with transaction(sessions) as session:
        session.execute(update(AuthSession).values(ip="203.0.113.9"))
    limit = settings.rate_auth * 2
    codes = []
    for i in range(limit + 5):
        # Each guess from a new address: the per-address bucket never fills.
        with transaction(sessions) as session:
            session.execute(RateBucket.__table__.delete().where(RateBucket.key.like("auth:%")))
        reply = client.post(
            "/v1/auth/login", json={"email": "target@garage.fr", "password": f"guess {i} nope x"}
        )
        codes.append(reply.status_code)
    # Failures only are counted, and past the limit guesses are refused (the bucket refills one
    # guess every 60/limit s: a slow-down, so one of the last may get through).
    assert codes[:limit] == [401] * limit, codes
    assert codes[limit:].count(429) >= 4, codes
    # The right password from a new address is turned away while the guessing goes on …
    with transaction(sessions) as session:
        session.execute(RateBucket.__table__.delete().where(RateBucket.key.like("auth:%")))
    right = {"email": "target@garage.fr", "password": PASSWORD}
    assert client.post("/v1/auth/login", json=right).status_code == 429
    # … but from an address the owner has logged in from before, it gets in.
    with transaction(sessions) as session:
        session.execute(update(AuthSession).values(ip="testclient"))
    assert client.post("/v1/auth/login", json=right).status_code == 200


def test_made_up_credentials_are_counted_against_the_anonymous_budget(
    engine, meili, sessions, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from litestar.testing import TestClient

    from directory.app import create_app
    from directory.settings import load_settings

    settings = load_settings(
        {
            "DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
            "ATELIER_DATA_DIR": str(tmp_path),
            "ATELIER_RATE_ANONYMOUS": "20",
        }
    )
    app = create_app(settings, engine=engine, meili_url=meili.url)
    app.on_shutdown.clear()
    codes = []
    with TestClient(app) as client:
        for i in range(30):
            bearer = f"atk_{i:010d}_" + "x" * 43 if i % 2 else f"made-up-session-{i}"
            reply = client.get("/v1/networks", headers={"Authorization": f"Bearer {bearer}"})
            codes.append(reply.status_code)
    # Each made-up token is refused (401) and counted; past the budget the client waits (429).
    assert codes[:20] == [401] * 20, codes
    assert codes[20:].count(429) >= 8, codes


def test_leases_never_let_processes_exceed_the_shared_limit(
    sessions: sessionmaker[Session],
) -> None:
    # Two limiters are two worker processes: each takes a few requests' worth at a time from
    # the shared bucket and hands them out without asking the database.
    first, second = ratelimit.Limiter(), ratelimit.Limiter()
    now = 1_800_000_000.0
    allowed = asked = 0
    size = ratelimit.lease_size(120)
    for i in range(300):
        limiter = first if i % 3 else second
        if (local := limiter.local("k", 120, now)) is not None:
            allowed += local.allowed
            continue
        asked += 1
        with transaction(sessions) as session:
            allowed += limiter.count(session, "k", 120, now).allowed
        if i == 99:
            # While within the limit, about one request in ``size`` reached the database.
            assert asked <= 100 / size + 2, asked
    assert 120 - 2 * (size - 1) <= allowed <= 120
    # A lease lasts the time its requests stand for at the limit's pace, no longer.
    later = now + size * 60 / 120 + 0.01
    assert first.local("k", 120, later) is None


def _shared_tat(sessions: sessionmaker[Session], key: str) -> float | None:
    with transaction(sessions) as session:
        return session.get(RateBucket, key).tat if session.get(RateBucket, key) else None


def test_anonymous_reads_pass_the_limit_by_at_most_a_lease_a_process_and_pay_it_back(
    sessions: sessionmaker[Session],
) -> None:
    # Two limiters are two worker processes; one client alternates between them.
    processes = ratelimit.Limiter(), ratelimit.Limiter()
    now = 1_800_000_000.0
    size = ratelimit.lease_size(120)
    allowed = settled = 0
    for i in range(300):
        limiter = processes[i % 2]
        verdict = limiter.admit("k", 120, now)
        if verdict is None:
            settled += 1
            verdict = limiter.settle(sessions, "k", 120, now)
        allowed += verdict.allowed
        if i == 99:
            # While within the limit, about one request in ``size`` read the shared bucket.
            assert settled <= 100 / size + 2, settled
    assert 120 <= allowed <= 120 + 2 * (size - 1), allowed
    for limiter in processes:
        limiter.flush(sessions, now)
    # Nothing admitted is lost or counted twice: every admission is one interval of the
    # shared bucket (the clock stood still), including those past the limit, which are owed.
    assert _shared_tat(sessions, "k") == pytest.approx(now + allowed * 60 / 120)
    # Once they know, both processes refuse on their own, and say for how long.
    for limiter in processes:
        assert limiter.admit("k", 120, now) is None or not limiter.admit("k", 120, now).allowed
        refused = limiter.settle(sessions, "k", 120, now)
        assert not refused.allowed
        assert refused.retry_after_s == math.ceil((allowed - 120) * 0.5 + 0.5)
        assert not limiter.admit("k", 120, now + 1).allowed  # no database: the view knows


def test_a_driver_searching_now_and_then_costs_no_database_round_trip(
    sessions: sessionmaker[Session],
) -> None:
    limiter = ratelimit.Limiter()
    now = 1_800_000_000.0
    drivers = [f"search:ip:2001:db8::{i:x}" for i in range(600)]
    for minute in range(3):
        for n, key in enumerate(drivers):
            at = now + minute * 20 + n / 100
            verdict = limiter.admit(key, 120, at)
            assert verdict is not None and verdict.allowed  # no database, no thread
            if limiter.flush_due(at):
                limiter.flush(sessions, at)
    assert limiter.flush_due(now + 100)
    limiter.flush(sessions, now + 100)
    assert not limiter.flush_due(now + 102)  # nothing owed: nothing to write
    with transaction(sessions) as session:
        buckets = {b.key: b.tat for b in session.query(RateBucket).all()}
    # Every search of every driver reached the shared buckets, spaced 20 s apart: each
    # bucket's TAT is the last search's time plus one interval.
    assert set(drivers) <= set(buckets)
    for n, key in enumerate(drivers):
        assert buckets[key] == pytest.approx(now + 40 + n / 100 + 0.5)


def test_what_a_failed_write_did_not_add_is_written_by_the_next(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    from sqlalchemy import create_engine

    away = sessionmaker(create_engine(f"sqlite:///{tmp_path}/missing/dir/x.db"))
    limiter = ratelimit.Limiter()
    now = 1_800_000_000.0
    for _ in range(3):
        limiter.admit("k", 120, now)
    assert limiter.flush_due(now)
    with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the driver raises
        limiter.flush(away, now)
    assert limiter.flush_due(now + 1)
    assert limiter.flush(sessions, now + 1) == 1
    assert _shared_tat(sessions, "k") == pytest.approx(now + 1 + 3 * 0.5)
