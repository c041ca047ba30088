"""Runs a search: on the index, or on the database when the index is unreachable.

Both paths filter with the same rules (``search.query`` / ``search.results``), measure geodesic
distance and order by (distance, id), so they give the same set and order; only text relevance
may differ.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certifications.catalogue import Catalogue
from directory.db import transaction
from directory.models import Site
from directory.sync import documents_for
from search.documents import SiteDocument
from search.query import FACETS, Cursor, SearchQuery, build_filter
from search.results import (
    Origin,
    SearchResponse,
    distances_m,
    facet_counts,
    item,
    matches,
    text_matches,
)
from search.searcher import MeiliSearcher

__all__ = ["search_database", "search_engine"]

# How far the engine's (haversine) order may stray from the exact geodesic one, in positions:
# the engine is asked for this many more hits either side of a page, and the page is re-ranked.
PAD = 12
RETRIEVED = [f for f in SiteDocument.__struct_encode_fields__ if f != "open_slots"]
# The engine filters on a radius a little wider than asked; the exact geodesic test follows.
RADIUS_SLACK = 1.01


def _key(dist: float, doc_id: str) -> tuple[int, str]:
    return (int(dist * 1000), doc_id)


def _after(cursor: Cursor | None, dist: float, doc_id: str) -> bool:
    return cursor is None or _key(dist, doc_id) > (cursor.last_mm, cursor.last_id)


def _page(
    ranked: Sequence[tuple[float, SiteDocument]],
    query: SearchQuery,
    cursor: Cursor | None,
    fingerprint: str,
    more: bool,
) -> tuple[list[tuple[float, SiteDocument]], str | None]:
    page = list(ranked[: query.limit])
    offset = (cursor.offset if cursor else 0) + len(page)
    if not page or not (more or len(ranked) > query.limit):
        return page, None
    last = page[-1]
    mm, last_id = _key(last[0], last[1].id) if query.sort == "distance" else (-1, "")
    return page, Cursor(
        offset=offset, fingerprint=fingerprint, last_mm=mm, last_id=last_id
    ).encode()


async def search_engine(
    searcher: MeiliSearcher,
    query: SearchQuery,
    catalogue: Catalogue,
    origin: Origin,
    cursor: Cursor | None,
    *,
    valid_at: datetime,
    open_at: datetime | None,
    now: datetime,
) -> SearchResponse:
    """Raises EngineUnavailable when the index cannot answer."""
    zones = await searcher.timezones() if open_at is not None else []
    radius_m = query.radius_km * 1000
    clauses = build_filter(query, catalogue, valid_at=valid_at, open_at=open_at, timezones=zones)
    clauses.append(f"_geoRadius({origin.lat}, {origin.lng}, {math.ceil(radius_m * RADIUS_SLACK)})")
    offset = cursor.offset if cursor else 0
    by_distance = query.sort == "distance"
    start = max(offset - PAD, 0) if by_distance else offset
    body: dict[str, Any] = {
        "q": query.q or "",
        "filter": clauses,
        "offset": start,
        "limit": query.limit + (offset - start) + PAD + 1,
        "attributesToRetrieve": RETRIEVED,
    }
    if by_distance:
        body["sort"] = [f"_geoPoint({origin.lat}, {origin.lng}):asc"]
    if query.facets:
        body["facets"] = [FACETS[f] for f in query.facets]
    result = await searcher.search(body)
    ranked = list(zip(distances_m(origin.lat, origin.lng, result.hits), result.hits, strict=True))
    ranked = [(d, h) for d, h in ranked if d <= radius_m]
    if by_distance:
        ranked = sorted(
            (r for r in ranked if _after(cursor, r[0], r[1].id)), key=lambda r: _key(r[0], r[1].id)
        )
    more = result.estimatedTotalHits > start + len(result.hits)
    page, next_cursor = _page(ranked, query, cursor, query.fingerprint(), more)
    facets: dict[str, dict[str, int]] = {
        f: result.facetDistribution.get(FACETS[f], {}) for f in query.facets
    }
    return SearchResponse(
        origin=origin,
        facets=facets,
        total_estimate=result.estimatedTotalHits,
        items=[item(doc, d, query, catalogue, valid_at=valid_at, now=now) for d, doc in page],
        next_cursor=next_cursor,
    )


def _candidates(session: Session, origin: Origin, radius_m: float) -> list[str]:
    """A bounding box in SQL (indexed on lat, lng); the exact distance follows in Python."""
    dlat = math.degrees(radius_m / 6_356_752.0) * RADIUS_SLACK
    coslat = max(math.cos(math.radians(min(abs(origin.lat) + dlat, 89.9))), 1e-6)
    dlng = min(math.degrees(radius_m / (6_378_137.0 * coslat)) * RADIUS_SLACK, 180.0)
    stmt = select(Site.id).where(
        Site.status == "active", Site.lat.between(origin.lat - dlat, origin.lat + dlat)
    )
    if origin.lng - dlng >= -180 and origin.lng + dlng <= 180:
        stmt = stmt.where(Site.lng.between(origin.lng - dlng, origin.lng + dlng))
    return list(session.scalars(stmt))


def search_database_sync(
    sessions: sessionmaker[Session],
    query: SearchQuery,
    catalogue: Catalogue,
    origin: Origin,
    cursor: Cursor | None,
    *,
    valid_at: datetime,
    open_at: datetime | None,
    now: datetime,
) -> SearchResponse:
    radius_m = query.radius_km * 1000
    with transaction(sessions) as session:
        docs, _ = documents_for(session, catalogue, _candidates(session, origin, radius_m), now)
    kept = [
        d
        for d in docs
        if matches(d, query, catalogue, valid_at=valid_at, open_at=open_at)
        and text_matches(d, query.q)
    ]
    found = list(zip(distances_m(origin.lat, origin.lng, kept), kept, strict=True))
    found = [(dist, d) for dist, d in found if dist <= radius_m]
    if query.sort == "distance":
        found.sort(key=lambda r: _key(r[0], r[1].id))
        remaining = [r for r in found if _after(cursor, r[0], r[1].id)]
    else:
        found.sort(key=lambda r: (r[1].name.lower(), r[1].id))
        remaining = found[cursor.offset if cursor else 0 :]
    page, next_cursor = _page(remaining, query, cursor, query.fingerprint(), False)
    return SearchResponse(
        origin=origin,
        facets=facet_counts([d for _, d in found], list(query.facets)),
        total_estimate=len(found),
        items=[item(doc, d, query, catalogue, valid_at=valid_at, now=now) for d, doc in page],
        next_cursor=next_cursor,
    )


async def search_database(
    sessions: sessionmaker[Session],
    query: SearchQuery,
    catalogue: Catalogue,
    origin: Origin,
    cursor: Cursor | None,
    *,
    valid_at: datetime,
    open_at: datetime | None,
    now: datetime,
) -> SearchResponse:
    return await to_thread.run_sync(
        lambda: search_database_sync(
            sessions, query, catalogue, origin, cursor, valid_at=valid_at, open_at=open_at, now=now
        )
    )
