"""Rate limits shared by every worker process: one GCRA bucket per client and class of route,
kept in the database and updated by a single atomic statement (no read-then-write race).

GCRA ("generic cell rate algorithm") stores one number per bucket, the theoretical arrival time
(TAT) of the next request: a limit of L a period T spaces requests I = T / L apart and lets a
client burst up to L at once. A request at `now` is allowed when max(TAT, now) + I - now <= T."""

from __future__ import annotations

import ipaddress
import math
import time

import msgspec
from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from directory.models import RateBucket

__all__ = ["PERIOD_S", "Verdict", "client_address", "hit", "purge"]

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


def hit(session: Session, key: str, limit: int, now: float | None = None) -> Verdict:
    """Counts one request against ``key`` (at most ``limit`` a minute) in the caller's
    transaction."""
    now = time.time() if now is None else now
    interval = PERIOD_S / limit
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
    if tat is not None:
        remaining = int((PERIOD_S - (tat - now)) // interval)
        return Verdict(True, limit, max(remaining, 0), math.ceil(tat - now), 0)
    current = session.execute(select(table.c.tat).where(table.c.key == key)).scalar_one()
    wait = max(current + interval - PERIOD_S - now, 0.0)
    return Verdict(False, limit, 0, math.ceil(current - now), max(math.ceil(wait), 1))


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
