"""A search on the engine: the matches nearest a point, in exact geodesic order.

By distance: one count of the matches in the whole radius (with the facets) sizes a first circle;
the engine returns every match in a box around it as (id, lat, lng) only, the circle grows until
it holds the page, and those points are ranked here by exact geodesic distance. The set within
each circle is complete, so the order is exact whatever the engine's own ranking. Only the page's
documents are then fetched whole. By relevance: the engine's own order, in one request.
"""

from __future__ import annotations

import math
from typing import Any

from certifications.catalogue import Catalogue
from search.documents import SiteDocument
from search.errors import EngineUnavailable
from search.query import FACETS, Origin, SearchContext, build_filter, quote
from search.results import (
    SearchResponse,
    after_cursor,
    answer,
    bbox,
    distances_m,
    rank_key,
)
from search.searcher import MeiliSearcher

__all__ = ["MAX_FETCH", "RETRIEVED", "box_clause", "search"]

# The most points fetched in one request when ranking by distance.
MAX_FETCH = 10_000
RETRIEVED = list(SiteDocument.__struct_encode_fields__)


def box_clause(origin: Origin, radius_m: float) -> str:
    lat0, lat1, lng0, lng1 = bbox(origin, radius_m)
    return f"lat >= {lat0} AND lat <= {lat1} AND lng >= {lng0} AND lng <= {lng1}"


async def search(
    searcher: MeiliSearcher, ctx: SearchContext, catalogue: Catalogue
) -> SearchResponse:
    """Raises EngineUnavailable when the index cannot answer."""
    query, origin, cursor = ctx.query, ctx.origin, ctx.cursor
    zones = await searcher.timezones() if ctx.open_at is not None else []
    radius_m = query.radius_km * 1000
    clauses = build_filter(ctx, catalogue, zones)
    offset = cursor.offset if cursor else 0
    summary_body: dict[str, Any] = {
        "q": query.q or "",
        "limit": 0,
        "filter": [*clauses, box_clause(origin, radius_m)],
    }
    if query.sort == "relevance":
        # The engine's own order: the count, the facets and the page come in one answer.
        summary_body |= {"offset": offset, "limit": query.limit + 1}
        summary_body["attributesToRetrieve"] = RETRIEVED
    if query.facets:
        summary_body["facets"] = [FACETS[f] for f in query.facets]
    summary = await searcher.search(summary_body)
    ranked: list[tuple[float, SiteDocument]]
    if query.sort == "distance":
        points = await nearest_points(
            searcher,
            query.q or "",
            clauses,
            origin,
            radius_m,
            needed=offset + query.limit + 1,
            total=summary.estimatedTotalHits,
        )
        points = [p for p in points if after_cursor(cursor, p[0], p[1])][: query.limit + 1]
        docs = await _documents(searcher, [p[1] for p in points])
        ranked = [(d, docs[sid]) for d, sid in points if sid in docs]
    else:
        hits = summary.hits
        ranked = [
            (d, h)
            for d, h in zip(distances_m(origin.lat, origin.lng, hits), hits, strict=True)
            if d <= radius_m
        ]
    facets: dict[str, dict[str, int]] = {
        f: summary.facetDistribution.get(FACETS[f], {}) for f in query.facets
    }
    return answer(ctx, catalogue, ranked, facets, summary.estimatedTotalHits)


async def nearest_points(
    searcher: MeiliSearcher,
    q: str,
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
            {"q": q, "limit": cap, "filter": [*clauses, box_clause(origin, r)]}
        )
        if result.estimatedTotalHits > cap and len(result.hits) >= cap:
            r *= 0.7 * math.sqrt(cap / result.estimatedTotalHits)  # too many: a smaller circle
            continue
        dists = distances_m(origin.lat, origin.lng, result.hits)
        ranked = [(d, p.id) for d, p in zip(dists, result.hits, strict=True) if d <= r]
        if len(ranked) >= needed or r >= radius_m:
            return sorted(ranked, key=lambda x: rank_key(x[0], x[1]))
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
