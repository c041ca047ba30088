"""The search on the database, for when the index is unreachable.

It filters with the same rules as the engine (``search.results.matches`` is the engine's filter
written in Python), measures geodesic distance and orders by (distance, id), so both backends
give the same set and order; only text relevance may differ.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from certifications.catalogue import Catalogue
from directory.db import transaction
from directory.models import Site
from directory.outbox.sync import documents_for
from search.query import Origin, SearchContext
from search.results import (
    SearchResponse,
    after_cursor,
    answer,
    bbox,
    distances_m,
    facet_counts,
    matches,
    rank_key,
    text_matches,
)

__all__ = ["search_database"]


def _candidates(session: Session, origin: Origin, radius_m: float) -> list[str]:
    """The engine's box in SQL (indexed on lat, lng); the exact distance follows in Python."""
    lat0, lat1, lng0, lng1 = bbox(origin, radius_m)
    stmt = select(Site.id).where(
        Site.status == "active", Site.lat.between(lat0, lat1), Site.lng.between(lng0, lng1)
    )
    return list(session.scalars(stmt))


def search_database(
    sessions: sessionmaker[Session], ctx: SearchContext, catalogue: Catalogue
) -> SearchResponse:
    query, origin, cursor = ctx.query, ctx.origin, ctx.cursor
    radius_m = query.radius_km * 1000
    with transaction(sessions) as session:
        docs, _ = documents_for(session, catalogue, _candidates(session, origin, radius_m), ctx.now)
    kept = [d for d in docs if matches(d, ctx, catalogue) and text_matches(d, query.q)]
    found = list(zip(distances_m(origin.lat, origin.lng, kept), kept, strict=True))
    found = [(dist, d) for dist, d in found if dist <= radius_m]
    if query.sort == "distance":
        found.sort(key=lambda r: rank_key(r[0], r[1].id))
        remaining = [r for r in found if after_cursor(cursor, r[0], r[1].id)]
    else:
        found.sort(key=lambda r: (r[1].name.lower(), r[1].id))
        remaining = found[cursor.offset if cursor else 0 :]
    facets = facet_counts([d for _, d in found], list(query.facets))
    return answer(ctx, catalogue, remaining, facets, len(found))
