"""A search on the engine: the matches nearest a point, in exact geodesic order.

By distance: one count of the matches in the whole radius (with the facets) sizes a first circle;
the engine returns every match in a region around it as (id, lat, lng) only, and those points are
ranked here by exact geodesic distance. The set within each circle is complete, so the order is
exact whatever the engine's own ranking. Only the page's documents are then fetched whole. By
relevance: the engine's own order, in one request.

Finding the circle that holds the page converges by construction: every match within ``lo`` is
known, a region of radius ``hi`` held more than one request may fetch, and each step either
answers, raises ``lo`` (fetching only the ring beyond it) or lowers ``hi`` — growing by the
density seen until ``hi`` is known, then by bisection. An uneven spread (an empty centre, a
dense town at the edge) once made a density-sized circle alternate between too few and too many
until it gave up, and deep pages of healthy searches were answered from the database.

Regions are unions of latitude strips around the circle rather than its bounding box: a box's
corners hold 27% more area than its circle, and a town in a corner filled every request.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import msgspec

from certifications.catalogue import Catalogue
from search.cells import covering
from search.documents import PAGE_FIELDS, SiteDocument
from search.errors import UnboundedQuery
from search.query import FACETS, Origin, SearchContext, build_filter, quote
from search.results import (
    SearchResponse,
    after_cursor,
    answer,
    bbox,
    distances_m,
    rank_key,
)
from search.searcher import EnginePoint, MeiliSearcher

__all__ = ["MAX_FETCH", "RETRIEVED", "nearest_points", "region_clause", "search"]

# The most points fetched in one request when ranking by distance.
MAX_FETCH = 10_000
RETRIEVED = PAGE_FIELDS
STRIPS = 8  # the region's strips: ~10% more area than the circle (its bounding box: 27%)
# Each step answers, or moves lo out by at least THIN_BAND of the radius, or halves the band
# above lo: a few dozen requests in the worst spread measured, one or two in most searches.
MAX_STEPS = 400
# A first circle expected to hold at most this many matches is fetched with the page's fields
# (a page of 20 and its margin); one holding WHOLE_LIMIT or more is asked again as points.
WHOLE_EXPECTED = 64
WHOLE_LIMIT = 200
THIN_BAND = 0.02  # a ring this thin (of its radius) that overflows is fetched tile by tile
MIN_TILE_DEG = 1e-6  # about 10 cm: more matches than a request may fetch in one is one point

# The circle is drawn on a sphere small enough that the ellipsoid's circle lies inside it: the
# smallest radius of curvature of WGS84 (the meridian's, at the equator), with 0.5% to spare.
_SPHERE_M = 6_335_439.0 / 1.005


def region_boxes(origin: Origin, radius_m: float) -> list[tuple[float, float, float, float]] | None:
    """The strips (south, north, west, east, degrees; longitudes may run past ±180) whose
    union holds every point within ``radius_m`` of ``origin``, and a few percent more; None
    when the circle reaches a pole's cap. Each strip's longitudes are the circle's widest within
    the strip's latitudes, by spherical trigonometry: near the poles a circle bulges in
    longitude on its equatorward side, which a flat chord missed (found at 79°N, 284 km)."""
    delta = radius_m / _SPHERE_M  # the angular radius
    lat = math.radians(origin.lat)
    if lat + delta >= math.radians(89.0) or lat - delta <= math.radians(-89.0):
        return None
    boxes = []
    for k in range(STRIPS):
        # South to north, spaced so that y² steps evenly (y in radii): every strip then
        # overshoots the circle by about the same ratio at its corners (√(1 + 2/STRIPS)).
        lat0, lat1 = lat + _edge(k) * delta, lat + _edge(k + 1) * delta
        dlng = math.degrees(_widest(lat, delta, lat0, lat1))
        boxes.append((math.degrees(lat0), math.degrees(lat1), origin.lng - dlng, origin.lng + dlng))
    return boxes


def region_clause(origin: Origin, radius_m: float, cells: bool = False) -> str:
    """A filter holding every point within ``radius_m`` of ``origin``, and a few percent more:
    the grid cells covering the strips when the index has them (``cells``), else the strips
    as ranges of ``lat`` and ``lng``."""
    boxes = region_boxes(origin, radius_m)
    if boxes is None:  # all longitudes
        delta = math.degrees(radius_m / _SPHERE_M)
        return f"lat >= {_fmt(origin.lat - delta)} AND lat <= {_fmt(origin.lat + delta)}"
    if cells and (covered := covering(boxes)) is not None:
        return covered
    return " OR ".join(
        f"(lat >= {_fmt(south)} AND lat <= {_fmt(north)}"
        f"{_lng_clause(origin.lng, (east - west) / 2)})"
        for south, north, west, east in boxes
    )


def _widest(lat: float, delta: float, lat0: float, lat1: float) -> float:
    """The largest longitude offset (radians) of the circle of angular radius ``delta`` around
    latitude ``lat`` at latitudes between ``lat0`` and ``lat1``."""
    # The circle is widest where its edge runs along a meridian, a little poleward of its centre.
    widest_at = math.asin(min(1.0, math.sin(lat) / math.cos(delta)))
    if lat0 <= widest_at <= lat1:
        return math.asin(min(1.0, math.sin(delta) / math.cos(lat)))

    def offset(at: float) -> float:
        cosine = (math.cos(delta) - math.sin(lat) * math.sin(at)) / (math.cos(lat) * math.cos(at))
        return math.acos(max(-1.0, min(1.0, cosine)))

    return max(offset(lat0), offset(lat1))


def _edge(k: int) -> float:
    t = -1 + 2 * k / STRIPS
    return math.copysign(math.sqrt(abs(t)), t)


def _lng_clause(lng: float, dlng: float) -> str:
    """`` AND`` the longitudes within ``dlng`` of ``lng``, across the antimeridian if need be."""
    return "" if dlng >= 180.0 else _lng_range(lng - dlng, lng + dlng)


def _lng_range(west: float, east: float) -> str:
    """`` AND`` the longitudes from ``west`` to ``east`` (which may run past ±180)."""
    if east - west >= 360.0:
        return ""
    if west < -180.0:
        return f" AND (lng >= {_fmt(west + 360)} OR lng <= {_fmt(east)})"
    if east > 180.0:
        return f" AND (lng >= {_fmt(west)} OR lng <= {_fmt(east - 360)})"
    return f" AND lng >= {_fmt(west)} AND lng <= {_fmt(east)}"


def _fmt(x: float) -> str:
    return f"{x:.7f}"  # never exponent notation; 1e-7° is about a centimetre


async def search(
    searcher: MeiliSearcher, ctx: SearchContext, catalogue: Catalogue
) -> SearchResponse:
    """Raises EngineUnavailable when the index cannot answer."""
    query, origin, cursor = ctx.query, ctx.origin, ctx.cursor
    zones = await searcher.timezones() if ctx.open_at is not None else []
    cells = await searcher.has_cells()
    radius_m = query.radius_km * 1000
    clauses = build_filter(ctx, catalogue, zones)
    offset = cursor.offset if cursor else 0
    summary_body: dict[str, Any] = {
        "q": query.q or "",
        "limit": 0,
        "filter": [*clauses, region_clause(origin, radius_m, cells)],
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
        raws: dict[str, msgspec.Raw] = {}  # the first circle's hits, when it came whole
        points = await nearest_points(
            searcher,
            query.q or "",
            clauses,
            origin,
            radius_m,
            needed=offset + query.limit + 1,
            total=summary.estimatedTotalHits,
            cells=cells,
            docs=raws,
        )
        points = [p for p in points if after_cursor(cursor, p[0], p[1])][: query.limit + 1]
        docs: dict[str, SiteDocument] = {
            i: searcher.document(raws[i]) for _, i in points if i in raws
        }
        docs |= await _documents(searcher, [i for _, i in points if i not in docs])
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
    cells: bool = False,
    docs: dict[str, msgspec.Raw] | None = None,
) -> list[tuple[float, str]]:
    """(distance, id) of every match within the smallest circle (≤ radius) holding ``needed``
    of them, ranked by (distance, id). Raises UnboundedQuery only when more matches than one
    request may fetch share one point (a thousand sites at one address).

    With ``docs``, a first circle expected to hold a page's worth (``WHOLE_EXPECTED``) comes
    with the page's fields, kept in ``docs`` as raw JSON (read only for the page: decoding a
    hundred documents to show twenty cost more CPU than the request it saved): the common
    search then needs no request for its page's documents."""
    if total == 0:
        return []
    cap = min(MAX_FETCH, max(1000, 4 * needed))
    # The first circle from the density seen over the whole radius: enough for the page with a
    # margin, in one request most of the time. Even when the whole radius would fit in one
    # request: the engine's time grows with the hits it returns (1,000 points: ~30 ms at 100k
    # sites; 50: ~1.5 ms), so fetching the radius whole made common searches the slowest.
    whole = docs is not None and min(total, 2.5 * needed) <= WHOLE_EXPECTED
    r = radius_m * min(1.0, math.sqrt(2.5 * needed / total))
    r = max(r, min(radius_m, 500.0))
    known: list[tuple[float, str]] = []  # every match within lo
    lo, hi = -1.0, math.inf  # below zero: a match at the origin itself is beyond lo
    for _ in range(MAX_STEPS):
        # What lies within lo comes again (fewer than ``needed``, a quarter of a request at
        # most): cheaper than a "NOT inside lo" clause, which rectangles cannot make tight.
        region = [*clauses, region_clause(origin, r, cells)]
        hits: Sequence[EnginePoint] = []
        complete = False
        if whole and docs is not None:
            whole = False  # the first circle only: later ones are rings of points
            found = await searcher.whole(
                {"q": q, "limit": WHOLE_LIMIT, "filter": region, "attributesToRetrieve": RETRIEVED}
            )
            complete = len(found) < WHOLE_LIMIT
            if complete:  # else denser than it looked: ask again for points only
                docs.update((point.id, raw) for point, raw in found)
                hits = [point for point, _ in found]
        if not complete:
            result = await searcher.points({"q": q, "limit": cap, "filter": region})
            hits = result.hits
            complete = len(hits) < cap or result.estimatedTotalHits <= len(hits)
        if not complete and cap < result.estimatedTotalHits <= MAX_FETCH:
            # One larger answer costs less than the requests that would find a smaller circle
            # (a dense town on this one).
            big = await searcher.points({"q": q, "limit": MAX_FETCH, "filter": region})
            complete = len(big.hits) < MAX_FETCH
            hits = big.hits if complete else hits
        if not complete:
            if r - lo > THIN_BAND * r:
                hi = r  # too many to fetch: the circle holding the page is smaller
                r = (lo + hi) / 2
                continue
            # A thin ring still holds too many for one request: fetch it tile by tile.
            hits = await _tiled(searcher, q, region, bbox(origin, r), (origin, lo, r))
        dists = distances_m(origin.lat, origin.lng, hits)
        ring = [(d, p.id) for d, p in zip(dists, hits, strict=True) if lo < d <= r]
        known += ring
        if len(known) >= needed or r >= radius_m:
            return sorted(known, key=lambda x: rank_key(x[0], x[1]))
        if hi - r > THIN_BAND * hi:
            lo, r = r, (r + hi) / 2
            continue
        # Beyond every circle that overflowed: grow to where the ring's density says the
        # page ends (with a margin), or double where the ring was empty.
        hi = math.inf
        if ring:
            density = len(ring) / (r * r - lo * lo)
            lo, r = r, math.sqrt(r * r + 1.3 * (needed - len(known)) / density)
        else:
            lo, r = r, r * 2
        r = min(radius_m, r)
    raise UnboundedQuery("the nearest matches could not be bounded")  # pragma: no cover


async def _tiled(
    searcher: MeiliSearcher,
    q: str,
    filters: list[str],
    box: tuple[float, float, float, float],
    ring: tuple[Origin, float, float],
) -> list[EnginePoint]:
    """Every match of ``filters`` in ``box`` (south, north, west, east; longitudes may run past
    ±180), quartering any tile that holds more than one request may fetch. Tiles that lie
    wholly outside the ring (origin, inner radius, outer radius) are not asked for."""
    south, north, west, east = box
    origin, inner_m, outer_m = ring
    near, far = _tile_extent(origin, box)
    if near > outer_m * 1.01 + 10 or far < inner_m * 0.99 - 10:
        return []
    tile = [*filters, f"lat >= {_fmt(south)} AND lat <= {_fmt(north)}{_lng_range(west, east)}"]
    result = await searcher.points({"q": q, "limit": MAX_FETCH, "filter": tile})
    if len(result.hits) < MAX_FETCH or result.estimatedTotalHits <= len(result.hits):
        return list(result.hits)
    if north - south < MIN_TILE_DEG and east - west < MIN_TILE_DEG:
        raise UnboundedQuery(f"more than {MAX_FETCH} matches at one point")
    mid_lat, mid_lng = (south + north) / 2, (west + east) / 2
    found: list[EnginePoint] = []
    for quarter in (
        (south, mid_lat, west, mid_lng),
        (south, mid_lat, mid_lng, east),
        (mid_lat, north, west, mid_lng),
        (mid_lat, north, mid_lng, east),
    ):
        # Tile edges are shared: a point on one is in two tiles, and kept once.
        found += await _tiled(searcher, q, filters, quarter, ring)
    return list({p.id: p for p in found}.values())


def _tile_extent(origin: Origin, box: tuple[float, float, float, float]) -> tuple[float, float]:
    """The nearest and farthest distance (m, spherical) from ``origin`` to a tile; the callers'
    margins cover the sphere's error against the ellipsoid (< 0.5%)."""
    south, north, west, east = box
    lng = origin.lng
    if not west <= lng <= east:  # the tile may be written past ±180
        lng = min((lng - 360, lng, lng + 360), key=lambda x: min(abs(x - west), abs(x - east)))
    nearest_lat = min(max(origin.lat, south), north)
    nearest_lng = min(max(lng, west), east)
    corners = [(a, b) for a in (south, north) for b in (west, east)]
    far = max(_haversine(origin.lat, lng, a, b) for a, b in corners)
    return _haversine(origin.lat, lng, nearest_lat, nearest_lng), far


def _haversine(lat0: float, lng0: float, lat1: float, lng1: float) -> float:
    p0, p1 = math.radians(lat0), math.radians(lat1)
    h = (
        math.sin((p1 - p0) / 2) ** 2
        + math.cos(p0) * math.cos(p1) * math.sin(math.radians(lng1 - lng0) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))


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
