"""GET /v1/search and POST /v1/search/batch: which workshops near here can do this job."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Response, get, post
from litestar.params import FromQuery, JSONBody, QueryParameter

from directory.errors import FieldError, InvalidInput, each_or_problem
from directory.gate.auth import require_scope
from directory.http import QUERY_TEXT, AnyRequest, Caller, Deps
from directory.ops.counters import SEARCHES
from directory.searching.service import own_networks, parse, run
from search.results import SearchResponse

Many = Annotated[
    list[Annotated[str, msgspec.Meta(max_length=80, pattern=QUERY_TEXT)]] | None,
    QueryParameter(max_items=20),
]


@get(
    "/v1/search",
    tags=["search"],
    description="Workshops near a point or place that hold the competences asked for.",
)
async def search(
    request: AnyRequest,
    app_services: Deps,
    caller: Caller,
    lat: FromQuery[float | None] = None,
    lng: FromQuery[float | None] = None,
    place: Annotated[str | None, QueryParameter(max_length=120, pattern=QUERY_TEXT)] = None,
    radius_km: FromQuery[float] = 25.0,
    competence: Many = None,
    job: Many = None,
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
    q: Annotated[str | None, QueryParameter(max_length=200, pattern=QUERY_TEXT)] = None,
    sort: FromQuery[Literal["distance", "relevance"]] = "distance",
    limit: FromQuery[int] = 20,
    cursor: Annotated[str | None, QueryParameter(max_length=200, pattern=QUERY_TEXT)] = None,
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
            "job": job,
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
    query = parse(params, app_services.catalogue, app_services.jobs)
    answer, backend = await run(app_services, query, await own_networks(app_services, caller))
    SEARCHES.labels(backend).inc()
    return Response(answer, headers={"X-Search-Backend": backend})


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    # Any JSON value per slot: one that is not an object gets its own problem, as any other bad
    # query does, instead of failing the batch.
    queries: Annotated[list[Any], msgspec.Meta(min_length=1, max_length=500)]


@post(
    "/v1/search/batch",
    guards=[require_scope("search:batch")],
    tags=["search"],
    status_code=200,
    description="Up to 500 searches; answers in order; a bad query gets its own problem.",
)
async def search_batch(
    app_services: Deps, caller: Caller, data: JSONBody[BatchIn]
) -> dict[str, list[Any]]:
    own = await own_networks(app_services, caller)

    async def one(params: Any) -> SearchResponse:
        if not isinstance(params, dict):
            raise InvalidInput(
                "invalid search", errors=[FieldError("/query", "a search is a JSON object")]
            )
        query = parse(params, app_services.catalogue, app_services.jobs)
        return (await run(app_services, query, own))[0]

    return {"results": await each_or_problem(data.queries, one)}


class Place(msgspec.Struct, kw_only=True):
    label: str
    postcode: str | None
    country: str
    lat: float
    lng: float


class PlaceList(msgspec.Struct, kw_only=True):
    items: list[Place]


@get(
    "/v1/places",
    tags=["search"],
    sync_to_thread=False,
    description="Places whose name or postcode starts with q, from the offline gazetteer "
    "(suggestions as a person types a place to search from).",
)
def places(
    app_services: Deps,
    q: Annotated[str, QueryParameter(min_length=2, max_length=120, pattern=QUERY_TEXT)],
    limit: Annotated[int, QueryParameter(ge=1, le=20)] = 8,
) -> PlaceList:
    found = app_services.gazetteer.suggest(q, limit)
    return PlaceList(
        items=[
            Place(label=p.label, postcode=code, country=country, lat=p.lat, lng=p.lng)
            for p, code, country in found
        ]
    )


route_handlers: list[Any] = [search, search_batch, places]
