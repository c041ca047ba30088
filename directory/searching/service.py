"""A search from parameters to answer: check the query, resolve the place, the cursor and the
instants into one SearchContext, then ask the index (``search.nearest``) or, when the index is
away, the database (``fallback``). Both take the same context and give the same answer."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from anyio import to_thread

from certifications.catalogue import Catalogue
from certifications.jobs import Jobs
from directory.db import transaction, utcnow
from directory.errors import FieldError, InvalidInput
from directory.gate.auth import Principal
from directory.networks import service as networks
from directory.searching.fallback import search_database
from directory.services import Services
from search import nearest
from search.errors import EngineUnavailable, UnboundedQuery
from search.geocode import Gazetteer
from search.query import Cursor, CursorError, Origin, SearchContext, SearchQuery
from search.results import SearchResponse

__all__ = ["own_networks", "parse", "resolve", "run"]

log = logging.getLogger("atelier.search")


def parse(params: dict[str, Any], catalogue: Catalogue, jobs: Jobs) -> SearchQuery:
    """Query parameters (or a batch entry) to a checked SearchQuery; every problem a pointer."""
    try:
        query = msgspec.convert(params, SearchQuery, strict=False)
    except msgspec.ValidationError as err:
        text, _, where = str(err).partition(" - at `$")
        field = where.rstrip("`").lstrip(".").split("[")[0] if where else ""
        raise InvalidInput(
            "invalid search", errors=[FieldError(f"/query/{field}" if field else "/query", text)]
        ) from err
    problems = query.problems(catalogue)
    problems += [
        (f"/job/{i}", f"{job!r} is not a repair job (GET /v1/jobs lists them)")
        for i, job in enumerate(query.job)
        if jobs.get(job) is None
    ]
    if problems:
        raise InvalidInput(
            "invalid search",
            errors=[FieldError("/query" + pointer, detail) for pointer, detail in problems],
        )
    return query


def resolve(
    query: SearchQuery,
    gazetteer: Gazetteer,
    own: frozenset[str],
    jobs: Jobs,
    *,
    any_of: tuple[tuple[str, ...], ...] = (),
    report: frozenset[str] = frozenset(),
) -> SearchContext:
    """Where the search is from (a place read in the gazetteer, or the point given), where its
    page starts, and the instants it is read at."""
    now = utcnow()
    if query.place is not None:
        point = gazetteer.place(query.place)
        if point is None:
            raise InvalidInput(
                "unknown place",
                errors=[FieldError("/query/place", f"no place called {query.place!r} is known")],
            )
        origin = Origin(lat=point.lat, lng=point.lng, label=point.label, source=point.source)
    else:
        origin = Origin(lat=query.lat, lng=query.lng)  # type: ignore[arg-type]
    cursor = None
    if query.cursor:
        try:
            cursor = Cursor.decode(query.cursor, query.fingerprint())
        except CursorError as err:
            raise InvalidInput(
                "invalid cursor", errors=[FieldError("/query/cursor", str(err))]
            ) from err
    return SearchContext(
        query=query,
        origin=origin,
        cursor=cursor,
        valid_at=query.valid_at or now,
        open_at=query.open_at or (now if query.open_now else None),
        now=now,
        own=own,
        any_of=tuple(jobs.jobs[j].any_of for j in query.job if j in jobs.jobs) + any_of,
        report=report,
    )


async def own_networks(services: Services, caller: Principal) -> frozenset[str]:
    """The private networks this caller may search by and see in results (keys only)."""
    if caller.kind != "key":
        return frozenset()

    def load() -> frozenset[str]:
        with transaction(services.sessions) as session:
            return networks.own_private_networks(session, caller)

    return await to_thread.run_sync(load)


async def run(
    services: Services,
    query: SearchQuery,
    own: frozenset[str] = frozenset(),
    *,
    any_of: tuple[tuple[str, ...], ...] = (),
    report: frozenset[str] = frozenset(),
) -> tuple[SearchResponse, str]:
    """The answer, and which backend gave it. ``own``: the caller's private networks;
    ``any_of``: groups of schemes to hold one of each, beyond the query's jobs; ``report``:
    schemes to list in each item when held, without filtering on them."""
    ctx = resolve(query, services.gazetteer, own, services.jobs, any_of=any_of, report=report)
    if services.searcher is not None:
        try:
            return await nearest.search(services.searcher, ctx, services.catalogue), "index"
        except EngineUnavailable:
            pass  # answer from the record instead: slower, never wrong
        except UnboundedQuery as err:
            # The index is healthy; this one query cannot be paged by region.
            log.info("search answered from the database", extra={"reason": str(err)})
    # The record is read with blocking calls: off the event loop.
    answer = await to_thread.run_sync(search_database, services.sessions, ctx, services.catalogue)
    return answer, "database"
