"""GET /v1/search: which workshops near here can do this job."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Any, Literal

import msgspec
from anyio import to_thread
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery, JSONBody, QueryParameter

from directory import finder, networks
from directory.auth import Principal, principal_of, require_scope
from directory.counters import SEARCHES
from directory.db import transaction, utcnow
from directory.errors import InvalidInput, problem_body
from directory.validation import FieldError
from search.query import Cursor, CursorError, SearchQuery
from search.results import Origin, SearchResponse
from search.searcher import EngineUnavailable

Many = Annotated[list[str] | None, QueryParameter(max_items=20)]


def parse(params: dict[str, Any], catalogue: Any) -> SearchQuery:
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
    if problems:
        raise InvalidInput(
            "invalid search",
            errors=[FieldError("/query" + pointer, detail) for pointer, detail in problems],
        )
    return query


async def own_networks(state: State, principal: Principal) -> frozenset[str]:
    """The private networks this caller may search by and see in results (keys only)."""
    if principal.kind != "key":
        return frozenset()

    def load() -> frozenset[str]:
        with transaction(state.sessions) as session:
            return networks.own_private_networks(session, principal)

    return await to_thread.run_sync(load)


async def run(
    state: State, query: SearchQuery, own: frozenset[str] = frozenset()
) -> tuple[SearchResponse, str]:
    """The answer, and which backend gave it. ``own``: the caller's private networks."""
    now = utcnow()
    if query.place is not None:
        point = state.gazetteer.place(query.place)
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
    valid_at = query.valid_at or now
    open_at = query.open_at or (now if query.open_now else None)
    if state.searcher is not None:
        try:
            answer = await finder.search_engine(
                state.searcher,
                query,
                state.catalogue,
                origin,
                cursor,
                valid_at=valid_at,
                open_at=open_at,
                now=now,
                own=own,
            )
            return answer, "index"
        except EngineUnavailable:
            pass  # answer from the record instead: slower, never wrong
    # The record is read with blocking calls: off the event loop.
    answer = await to_thread.run_sync(
        partial(
            finder.search_database,
            state.sessions,
            query,
            state.catalogue,
            origin,
            cursor,
            valid_at=valid_at,
            open_at=open_at,
            now=now,
            own=own,
        )
    )
    return answer, "database"


@get(
    "/v1/search",
    tags=["search"],
    description="Workshops near a point or place that hold the competences asked for.",
)
async def search(
    request: Request[Any, Any, Any],
    state: State,
    lat: FromQuery[float | None] = None,
    lng: FromQuery[float | None] = None,
    place: Annotated[str | None, QueryParameter(max_length=120)] = None,
    radius_km: FromQuery[float] = 25.0,
    competence: Many = None,
    domain: Many = None,
    brand: Many = None,
    vehicle: Many = None,
    powertrain: Many = None,
    service: Many = None,
    network: Many = None,
    open_at: FromQuery[datetime | None] = None,
    open_now: FromQuery[bool] = False,
    valid_at: FromQuery[datetime | None] = None,
    include_declared: FromQuery[bool] = False,
    q: Annotated[str | None, QueryParameter(max_length=200)] = None,
    sort: FromQuery[Literal["distance", "relevance"]] = "distance",
    limit: FromQuery[int] = 20,
    cursor: Annotated[str | None, QueryParameter(max_length=200)] = None,
    facets: Many = None,
) -> Response[SearchResponse]:
    params = {
        k: v
        for k, v in {
            "lat": lat,
            "lng": lng,
            "place": place,
            "radius_km": radius_km,
            "competence": competence,
            "domain": domain,
            "brand": brand,
            "vehicle": vehicle,
            "powertrain": powertrain,
            "service": service,
            "network": network,
            "open_at": request.query_params.get("open_at"),
            "open_now": open_now,
            "valid_at": request.query_params.get("valid_at"),
            "include_declared": include_declared,
            "q": q,
            "sort": sort,
            "limit": limit,
            "cursor": cursor,
            "facets": facets,
        }.items()
        if v is not None
    }
    del open_at, valid_at  # re-read raw, so an instant without an offset is an error, not UTC
    query = parse(params, state.catalogue)
    answer, backend = await run(state, query, await own_networks(state, principal_of(request)))
    SEARCHES.labels(backend).inc()
    return Response(answer, headers={"X-Search-Backend": backend})


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    queries: Annotated[list[dict[str, Any]], msgspec.Meta(min_length=1, max_length=500)]


@post(
    "/v1/search/batch",
    guards=[require_scope("search:batch")],
    tags=["search"],
    status_code=200,
    description="Up to 500 searches; answers in order; a bad query gets its own problem.",
)
async def search_batch(
    request: Request[Any, Any, Any], state: State, data: JSONBody[BatchIn]
) -> dict[str, list[Any]]:
    own = await own_networks(state, principal_of(request))
    results: list[Any] = []
    for params in data.queries:
        try:
            answer, _ = await run(state, parse(params, state.catalogue), own)
            results.append(answer)
        except InvalidInput as err:
            results.append(problem_body(err))
    return {"results": results}
