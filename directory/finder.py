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

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certifications.catalogue import Catalogue
from directory.db import transaction
from directory.models import Site
from directory.sync import documents_for
from search.documents import SiteDocument
from search.query import FACETS, Cursor, SearchQuery, build_filter, quote
from search.results import (
    Origin,
    SearchResponse,
    distances_m,
    facet_counts,
    item,
    matches,
    text_matches,
)
from search.searcher import EngineUnavailable, MeiliSearcher

__all__ = ["search_database", "search_engine"]

# The first circle tried when ranking by distance, and the most hits fetched at once.
START_RADIUS_M = 3_000.0
MAX_FETCH = 10_000
RETRIEVED = list(SiteDocument.__struct_encode_fields__)
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
) -> tuple[list[tuple[float, SiteDocument]], str | None]:
    page = list(ranked[: query.limit])
    offset = (cursor.offset if cursor else 0) + len(page)
    if not page or len(ranked) <= query.limit:
        return page, None
    last = page[-1]
    mm, last_id = _key(last[0], last[1].id) if query.sort == "distance" else (-1, "")
    return page, Cursor(
        offset=offset, fingerprint=fingerprint, last_mm=mm, last_id=last_id
    ).encode()


def bbox(origin: Origin, radius_m: float) -> tuple[float, float, float, float]:
    """A box that surely holds the circle (a little wider, for the ellipsoid): lat/lng bounds."""
    dlat = math.degrees(radius_m / 6_356_752.0) * RADIUS_SLACK
    coslat = max(math.cos(math.radians(min(abs(origin.lat) + dlat, 89.9))), 1e-6)
    dlng = min(math.degrees(radius_m / (6_378_137.0 * coslat)) * RADIUS_SLACK, 180.0)
    return (origin.lat - dlat, origin.lat + dlat, origin.lng - dlng, origin.lng + dlng)


def _box_clause(box: tuple[float, float, float, float]) -> str:
    lat0, lat1, lng0, lng1 = box
    return f"lat >= {lat0} AND lat <= {lat1} AND lng >= {lng0} AND lng <= {lng1}"


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
    own: frozenset[str] = frozenset(),
) -> SearchResponse:
    """Raises EngineUnavailable when the index cannot answer.

    By distance: one count of the matches in the whole radius (with the facets) sizes a first
    circle; the engine returns every match in a box around it as (id, lat, lng) only, the circle
    grows until it holds the page, and those points are ranked here by exact geodesic distance.
    The set within each circle is complete, so the order is exact whatever the engine's own
    ranking. Only the page's documents are then fetched whole.
    """
    zones = await searcher.timezones() if open_at is not None else []
    radius_m = query.radius_km * 1000
    clauses = build_filter(
        query, catalogue, valid_at=valid_at, open_at=open_at, timezones=zones, own=own
    )
    offset = cursor.offset if cursor else 0
    summary_body: dict[str, Any] = {
        "q": query.q or "",
        "limit": 0,
        "filter": [*clauses, _box_clause(bbox(origin, radius_m))],
    }
    if query.sort == "relevance":
        # The engine's own order: the count, the facets and the page come in one answer.
        summary_body |= {"offset": offset, "limit": query.limit + 1}
        summary_body["attributesToRetrieve"] = RETRIEVED
    if query.facets:
        summary_body["facets"] = [FACETS[f] for f in query.facets]
    summary = await searcher.search(summary_body)
    if query.sort == "distance":
        points = await _nearest(
            searcher,
            query,
            clauses,
            origin,
            radius_m,
            needed=offset + query.limit + 1,
            total=summary.estimatedTotalHits,
        )
        points = [p for p in points if _after(cursor, p[0], p[1])][: query.limit + 1]
        docs = await _documents(searcher, [p[1] for p in points])
        ranked = [(d, docs[sid]) for d, sid in points if sid in docs]
    else:
        hits = summary.hits
        ranked = [
            (d, h)
            for d, h in zip(distances_m(origin.lat, origin.lng, hits), hits, strict=True)
            if d <= radius_m
        ]
    page, next_cursor = _page(ranked, query, cursor, query.fingerprint())
    facets: dict[str, dict[str, int]] = {
        f: summary.facetDistribution.get(FACETS[f], {}) for f in query.facets
    }
    return SearchResponse(
        origin=origin,
        facets=facets,
        total_estimate=summary.estimatedTotalHits,
        items=[
            item(doc, d, query, catalogue, valid_at=valid_at, now=now, own=own) for d, doc in page
        ],
        next_cursor=next_cursor,
    )


async def _nearest(
    searcher: MeiliSearcher,
    query: SearchQuery,
    clauses: list[str],
    origin: Origin,
    radius_m: float,
    needed: int,
    total: int,
) -> list[tuple[float, str]]:
    """(distance, id) of every match within the smallest circle (≤ radius) holding ``needed``
    of them, ranked by (distance, id)."""
    if total == 0:
        return []
    cap = min(MAX_FETCH, max(1000, 4 * needed))
    # Size the first circle from the density seen over the whole radius (a box holds 4/π of
    # its circle): enough for the page with a margin, in one request most of the time.
    r = radius_m if total <= cap else radius_m * min(1.0, math.sqrt(2.5 * needed / total))
    r = max(r, min(radius_m, 500.0))
    for _ in range(24):
        result = await searcher.points(
            {"q": query.q or "", "limit": cap, "filter": [*clauses, _box_clause(bbox(origin, r))]}
        )
        if result.estimatedTotalHits > cap and len(result.hits) >= cap:
            r *= 0.7 * math.sqrt(cap / result.estimatedTotalHits)  # too many: a smaller circle
            continue
        dists = distances_m(origin.lat, origin.lng, result.hits)
        ranked = [(d, p.id) for d, p in zip(dists, result.hits, strict=True) if d <= r]
        if len(ranked) >= needed or r >= radius_m:
            return sorted(ranked, key=lambda x: _key(x[0], x[1]))
        growth = math.sqrt(needed / max(len(ranked), 1)) * 1.3  # by the density seen
        r = min(radius_m, r * max(2.0, growth))
    raise EngineUnavailable("could not bound the query")  # pragma: no cover - defensive


async def _documents(searcher: MeiliSearcher, ids: list[str]) -> dict[str, SiteDocument]:
    if not ids:
        return {}
    listed = ", ".join(quote(i) for i in ids)
    result = await searcher.search(
        {
            "q": "",
            "limit": len(ids),
            "attributesToRetrieve": RETRIEVED,
            "filter": f"id IN [{listed}]",
        }
    )
    return {h.id: h for h in result.hits}


def _candidates(session: Session, origin: Origin, radius_m: float) -> list[str]:
    """The same box in SQL (indexed on lat, lng); the exact distance follows in Python."""
    lat0, lat1, lng0, lng1 = bbox(origin, radius_m)
    stmt = select(Site.id).where(
        Site.status == "active", Site.lat.between(lat0, lat1), Site.lng.between(lng0, lng1)
    )
    return list(session.scalars(stmt))


def search_database(
    sessions: sessionmaker[Session],
    query: SearchQuery,
    catalogue: Catalogue,
    origin: Origin,
    cursor: Cursor | None,
    *,
    valid_at: datetime,
    open_at: datetime | None,
    now: datetime,
    own: frozenset[str] = frozenset(),
) -> SearchResponse:
    radius_m = query.radius_km * 1000
    with transaction(sessions) as session:
        docs, _ = documents_for(session, catalogue, _candidates(session, origin, radius_m), now)
    kept = [
        d
        for d in docs
        if matches(d, query, catalogue, valid_at=valid_at, open_at=open_at, own=own)
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
    page, next_cursor = _page(remaining, query, cursor, query.fingerprint())
    return SearchResponse(
        origin=origin,
        facets=facet_counts([d for _, d in found], list(query.facets)),
        total_estimate=len(found),
        items=[
            item(doc, d, query, catalogue, valid_at=valid_at, now=now, own=own) for d, doc in page
        ],
        next_cursor=next_cursor,
    )
