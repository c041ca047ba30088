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

import msgspec
from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

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
    interval = PERIOD_S / limit * cost
    dialect = session.get_bind().dialect.name
    greatest = func.greatest if dialect == "postgresql" else func.max
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = RateBucket.__table__
    assert isinstance(table, Table)  # noqa: S101 - for the type checker
    next_tat = greatest(table.c.tat, now) + interval
    stmt = (
        insert(table)
        .values(key=key, tat=now + interval)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"tat": next_tat},
            where=(next_tat - now) <= PERIOD_S,
        )
        .returning(table.c.tat)
    )
    tat = session.execute(stmt).scalar_one_or_none()
    one = PERIOD_S / limit
    if tat is not None:
        remaining = int((PERIOD_S - (tat - now)) // one)
        return Verdict(True, limit, max(remaining, 0), math.ceil(tat - now), 0)
    current = session.execute(select(table.c.tat).where(table.c.key == key)).scalar_one()
    wait = max(current + one - PERIOD_S - now, 0.0)
    return Verdict(False, limit, 0, math.ceil(current - now), max(math.ceil(wait), 1))


def peek(session: Session, key: str, limit: int, now: float | None = None) -> bool:
    """Whether a request on ``key`` would be allowed now, taking nothing."""
    now = time.time() if now is None else now
    table = RateBucket.__table__
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


class Limiter:
    """One per process. The shared count lives in the database; to spare a round trip on most
    requests, a process takes a few requests' worth at once (``lease_size``) and hands them out
    locally until they run out or their time passes (the time they represent at the limit's
    pace, so a lease cannot carry a burst over into a later window)."""

    def __init__(self) -> None:
        self._leases: dict[str, _Lease] = {}
        # Buckets this process saw refused, and until when: turned away with no work and no
        # database round trip. Only ever set from a verdict of the shared count.
        self._blocked: dict[str, float] = {}
        self._lock = threading.Lock()

    def blocked_for(self, key: str, now: float) -> int | None:
        """Seconds left on a refusal this process already saw, or None."""
        until = self._blocked.get(key)
        return max(1, math.ceil(until - now)) if until is not None and until > now else None

    def block(self, key: str, until: float) -> None:
        if len(self._blocked) > 10_000:
            self._blocked.clear()  # a bound on memory; the database stays the truth
        self._blocked[key] = until

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
