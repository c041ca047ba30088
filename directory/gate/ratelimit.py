"""Rate limits shared by every worker process: one GCRA bucket per client and class of route,
kept in the database and updated by a single atomic statement (no read-then-write race).

GCRA ("generic cell rate algorithm") stores one number per bucket, the theoretical arrival time
(TAT) of the next request: a limit of L a period T spaces requests I = T / L apart and lets a
client burst up to L at once. A request at `now` is allowed when max(TAT, now) + I - now <= T."""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from typing import Any

import msgspec
from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from directory.db import transaction
from directory.models import RateBucket

__all__ = ["PERIOD_S", "Limiter", "Verdict", "client_address", "hit", "lease_size", "purge"]

PERIOD_S = 60.0


class Verdict(msgspec.Struct, frozen=True):
    allowed: bool
    limit: int
    remaining: int
    reset_s: int  # until the bucket is full again
    retry_after_s: int  # 0 when allowed

    def headers(self) -> dict[str, str]:
        # The IETF draft's RateLimit-* fields as most clients read them today, plus Retry-After.
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
            "RateLimit-Policy": f"{self.limit};w={int(PERIOD_S)}",
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after_s)
        return out


def hit(session: Session, key: str, limit: int, now: float | None = None, cost: int = 1) -> Verdict:
    """Takes ``cost`` requests' worth from ``key`` (at most ``limit`` a minute), all or none,
    in the caller's transaction."""
    now = time.time() if now is None else now
    allowed, tat = _take(session, key, limit, now, cost)
    return _verdict(allowed, limit, tat, now)


def _take(session: Session, key: str, limit: int, now: float, cost: int) -> tuple[bool, float]:
    """(allowed, the bucket's TAT after the request)."""
    interval = PERIOD_S / limit * cost
    table = _table()
    next_tat = _greatest(session)(table.c.tat, now) + interval
    stmt = (
        _insert(session)(table)
        .values(key=key, tat=now + interval)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"tat": next_tat},
            where=(next_tat - now) <= PERIOD_S,
        )
        .returning(table.c.tat)
    )
    tat = session.execute(stmt).scalar_one_or_none()
    if tat is not None:
        return True, tat
    return False, session.execute(select(table.c.tat).where(table.c.key == key)).scalar_one()


def _owe(session: Session, key: str, limit: int, now: float, count: int) -> float:
    """Adds ``count`` requests already answered to ``key``, past its limit if need be (the
    client then waits until it has paid them back); returns the bucket's TAT."""
    interval = PERIOD_S / limit * count
    table = _table()
    stmt = (
        _insert(session)(table)
        .values(key=key, tat=now + interval)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"tat": _greatest(session)(table.c.tat, now) + interval},
        )
        .returning(table.c.tat)
    )
    return float(session.execute(stmt).scalar_one())


def _verdict(allowed: bool, limit: int, tat: float, now: float) -> Verdict:
    """The verdict on a request given the bucket's TAT: after it when allowed, as it stands
    when refused."""
    one = PERIOD_S / limit
    if allowed:
        remaining = int((PERIOD_S - (tat - now)) // one)
        return Verdict(True, limit, max(remaining, 0), math.ceil(tat - now), 0)
    wait = max(tat + one - PERIOD_S - now, 0.0)
    return Verdict(False, limit, 0, math.ceil(tat - now), max(math.ceil(wait), 1))


def _table() -> Table:
    table = RateBucket.__table__
    assert isinstance(table, Table)  # noqa: S101 - for the type checker
    return table


def _greatest(session: Session) -> Any:
    return func.greatest if session.get_bind().dialect.name == "postgresql" else func.max


def _insert(session: Session) -> Any:
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def peek(session: Session, key: str, limit: int, now: float | None = None) -> bool:
    """Whether a request on ``key`` would be allowed now, taking nothing."""
    now = time.time() if now is None else now
    table = _table()
    tat = session.execute(select(table.c.tat).where(table.c.key == key)).scalar_one_or_none()
    return tat is None or max(tat, now) + PERIOD_S / limit - now <= PERIOD_S


LEASE_MAX = 10


def lease_size(limit: int) -> int:
    """How many requests a process takes from the shared bucket at once: a tenth of the
    budget at most. Tokens a process holds but does not use are lost, never lent, so the shared
    limit is never exceeded; a client meets it at most (size - 1) per process early."""
    return max(1, min(LEASE_MAX, limit // 12))


class _Lease(msgspec.Struct):
    tokens: int
    expires: float
    remaining: int  # the shared bucket's remaining count when the lease was taken
    reset_s: int


class _View(msgspec.Struct):
    """A process's view of one anonymous bucket: never ahead of the shared one."""

    limit: int
    tat: float  # the shared TAT when last read, plus what this process admitted since
    debt: int = 0  # admitted here and not yet added to the shared bucket
    unread: int = 0  # admitted here since the shared bucket was last read


SYNC_S = 1.0  # how often a process adds what it admitted on its own to the shared buckets
MAX_VIEWS = 100_000  # past this many buckets in view, new clients are counted in the database


class Limiter:
    """One per process; the shared count lives in the database.

    Requests with credentials (keys with quotas, sign-ins, writes) are counted exactly: to
    spare a round trip on most of them, a process takes a few requests' worth at once
    (``lease_size``) and hands them out locally until they run out or their time passes (the
    time they represent at the limit's pace, so a lease cannot carry a burst over into a later
    window). Tokens a process holds but does not use are lost, never lent: the shared limit is
    never exceeded.

    Anonymous reads (drivers' searches, pages) are the hot path, and a driver searches a few
    times a minute: a lease had expired by the next search, so every one cost a database
    round trip (18% of the API's busy samples under load, measured). They are admitted on
    the process's own view of the bucket instead, and what it admitted is added to the shared
    bucket once a second (``flush``), in one transaction for all clients. The view is the
    shared TAT last read plus what this process admitted since, never ahead of the shared
    one, so its refusals are always right; after ``lease_size - 1`` admissions without reading
    the shared bucket the next request reads it (``settle``). A client spreading a burst over
    P processes may pass the limit by at most P × (lease_size - 1) before it is refused (by
    none under 24 a minute, where a lease is one request), and
    what it took beyond is owed: the shared bucket carries it, so over any minute the limit
    holds. At most one second of admissions is lost if a process dies."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        self._views: dict[str, _View] = {}
        self._owed = 0  # admissions not yet added to the shared buckets
        self._flushed = 0.0
        self._flushing = False
        self._lock = threading.Lock()

    def local(self, key: str, limit: int, now: float) -> Verdict | None:
        """A verdict from this process's lease, or None when the database must be asked."""
        with self._lock:
            lease = self._leases.get(key)
            if lease is None or lease.tokens <= 0 or lease.expires <= now:
                return None
            lease.tokens -= 1
            return Verdict(True, limit, lease.remaining + lease.tokens, lease.reset_s, 0)

    def count(self, session: Session, key: str, limit: int, now: float) -> Verdict:
        local = self.local(key, limit, now)
        if local is not None:
            return local
        size = lease_size(limit)
        verdict = hit(session, key, limit, now, cost=size)
        if not verdict.allowed and size > 1:
            size, verdict = 1, hit(session, key, limit, now)  # near the limit: one at a time
        if verdict.allowed and size > 1:
            with self._lock:
                if len(self._leases) > 50_000:
                    self._leases = {k: v for k, v in self._leases.items() if v.expires > now}
                self._leases[key] = _Lease(
                    tokens=size - 1,
                    expires=now + size * PERIOD_S / limit,
                    remaining=verdict.remaining,
                    reset_s=verdict.reset_s,
                )
            verdict = msgspec.structs.replace(verdict, remaining=verdict.remaining + size - 1)
        return verdict

    def admit(self, key: str, limit: int, now: float) -> Verdict | None:
        """An anonymous read's verdict from this process's view, or None when the shared
        bucket must be read first (``settle``)."""
        with self._lock:
            view = self._views.get(key)
            if view is None:
                if len(self._views) >= MAX_VIEWS:
                    return None
                view = self._views[key] = _View(limit, now)
            if view.limit != limit or view.unread >= lease_size(limit) - 1:
                return None
            start = max(view.tat, now)
            if start + PERIOD_S / limit - now > PERIOD_S:
                return _verdict(False, limit, view.tat, now)
            view.tat = start + PERIOD_S / limit
            view.debt += 1
            view.unread += 1
            self._owed += 1
            return _verdict(True, limit, view.tat, now)

    def settle(self, sessions: sessionmaker[Session], key: str, limit: int, now: float) -> Verdict:
        """Counts an anonymous read against the shared bucket, with what this process owes
        it; the view then starts again from the shared TAT."""
        with self._lock:
            view = self._views.get(key)
            debt = view.debt if view is not None and view.limit == limit else 0
            if view is not None:
                view.debt = 0
            self._owed -= debt
        try:
            with transaction(sessions) as session:
                if debt:
                    _owe(session, key, limit, now, debt)
                allowed, tat = _take(session, key, limit, now, 1)
        except Exception:
            self._repay({key: (limit, debt)}, now)
            raise
        with self._lock:
            view = self._views.get(key)
            if view is not None and view.limit == limit:
                view.tat = max(tat + view.debt * PERIOD_S / limit, view.tat)
                view.unread = view.debt
        return _verdict(allowed, limit, tat, now)

    def flush_due(self, now: float) -> bool:
        """Whether this process should ``flush`` now; true for one caller at a time."""
        with self._lock:
            if self._flushing or not self._owed or now - self._flushed < SYNC_S:
                return False
            self._flushing = True
            return True

    def flush(self, sessions: sessionmaker[Session], now: float) -> int:
        """Adds what this process admitted to the shared buckets, in one transaction, and
        reads them back; forgets buckets that are full again. Returns the buckets written."""
        with self._lock:
            owed = {k: (v.limit, v.debt) for k, v in self._views.items() if v.debt}
            for k in owed:
                self._views[k].debt = 0
            self._owed = 0
        try:
            with transaction(sessions) as session:
                tats = {k: _owe(session, k, limit, now, debt) for k, (limit, debt) in owed.items()}
        except Exception:
            self._repay(owed, now)
            raise
        finally:
            with self._lock:
                self._flushing, self._flushed = False, now
        with self._lock:
            for k, tat in tats.items():
                view = self._views.get(k)
                if view is not None:
                    view.tat = max(tat + view.debt * PERIOD_S / view.limit, view.tat)
                    view.unread = view.debt
            self._views = {k: v for k, v in self._views.items() if v.debt or v.tat > now}
        return len(owed)

    def _repay(self, owed: dict[str, tuple[int, int]], now: float) -> None:
        """Puts back debts a failed write did not add (the database was away)."""
        with self._lock:
            for key, (limit, debt) in owed.items():
                if debt:
                    self._views.setdefault(key, _View(limit, now)).debt += debt
                    self._owed += debt


def purge(session: Session, now: float | None = None) -> int:
    """Drops buckets that are full again (their TAT is past): they hold no information."""
    now = time.time() if now is None else now
    return session.execute(delete(RateBucket).where(RateBucket.tat < now)).rowcount or 0  # type: ignore[attr-defined]


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[str, ...]) -> str:
    """The address to count a request against. X-Forwarded-For is read only when the peer is a
    trusted proxy, from the right (nearest hop) leftwards, stopping at the first untrusted
    address: entries a client wrote itself sit further left and are never reached."""
    if not peer:
        return "unknown"
    networks = [ipaddress.ip_network(n) for n in trusted]

    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        return any(ip in n for n in networks)

    if not networks or not is_trusted(peer) or not forwarded_for:
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")][:32]):
        if not hop:
            continue
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage in the header: count it against the proxy
    return peer
