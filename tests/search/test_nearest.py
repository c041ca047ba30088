"""The engine's distance search on a distribution that defeats a circle sized from density:
an empty centre, one dense town at the edge of the radius, another in the corner of the box
(outside the circle). Every page, however deep, must come from the index, in exact geodesic
order, with nothing missing."""

from __future__ import annotations

import asyncio
import math
import random

import pytest
from geopy.distance import geodesic

from search import nearest
from search.cells import cell_fields
from search.errors import UnboundedQuery
from search.nearest import nearest_points, region_clause
from search.query import Origin
from search.results import rank_key
from search.searcher import MeiliSearcher
from tests.spreads import ORIGIN, RADIUS_M, CountingSearcher, around, document, uneven


@pytest.mark.parametrize("cells", [False, True], ids=["ranges", "cells"])
@pytest.mark.parametrize(
    ("max_fetch", "most_requests"),
    # As shipped: a few requests a page. With a request limit below the dense town's size
    # (no real town holds 10,000 workshops) the bisection and the tiled fetch of a thin ring
    # must still give the exact answer, at a cost in requests that is only printed.
    [(nearest.MAX_FETCH, 4), (1000, None), (300, None)],
)
def test_every_page_of_a_wide_search_over_an_uneven_spread_comes_from_the_index(
    meili, meili_keys, index, monkeypatch, max_fetch, most_requests, cells
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(nearest, "MAX_FETCH", max_fetch)
    docs = uneven(sparse=150, town=2500, seed=11)
    index.apply(docs, [])
    exact = sorted(
        (
            (d, doc.id)
            for doc in docs
            if (d := geodesic((ORIGIN.lat, ORIGIN.lng), (doc.lat, doc.lng)).meters) <= RADIUS_M
        ),
        key=lambda x: rank_key(x[0], x[1]),
    )
    assert 2500 < len(exact) < 2700  # the edge town and the sparse ones, not the corner

    async def pages() -> None:
        searcher = CountingSearcher(meili.url, meili_keys.search)
        try:
            for needed in (21, 101, 301, 1001, 2001, len(exact) + 1):
                searcher.requests = 0
                got = await nearest_points(
                    searcher,
                    "",
                    ["status = active"],
                    ORIGIN,
                    RADIUS_M,
                    needed,
                    len(docs),
                    cells=cells,
                )
                assert [i for _, i in got[:needed]] == [i for _, i in exact[:needed]], needed
                assert all(abs(a - b) < 1.0 for (a, _), (b, _) in zip(got, exact, strict=False))
                requests = searcher.requests
                print(f"needed {needed}: {requests} engine requests")
                assert most_requests is None or requests <= most_requests, (needed, requests)
        finally:
            await searcher.close()

    asyncio.run(pages())


@pytest.mark.parametrize("cells", [False, True], ids=["ranges", "cells"])
def test_the_region_holds_the_circle_and_little_else(cells: bool) -> None:
    # Anywhere from the equator to the poles' edges, across the antimeridian: every point
    # inside (the edge included, where a flat chord once missed at 79°N) matches, whether the
    # region is written as ranges of lat/lng or as the grid cells covering them.
    rng = random.Random(5)
    for _ in range(300):
        lat, r = rng.uniform(-88, 88), rng.uniform(500, 300_000)
        origin = Origin(lat=lat, lng=rng.uniform(-180, 180), label="", source="point")
        strips = region_clause(origin, r, cells)
        for i in range(86):
            along = r * 0.999 if i < 36 else r * math.sqrt(rng.random())
            bearing = i * 10 if i < 36 else rng.uniform(0, 360)
            point = geodesic(meters=along).destination((origin.lat, origin.lng), bearing)
            assert _matches(strips, point.latitude, point.longitude), (origin, r, bearing)
        if abs(lat) <= 60 and not strips.startswith("g"):  # nothing 30% out (a box: 41%)
            for _ in range(50):
                point = geodesic(meters=r * 1.3).destination(
                    (origin.lat, origin.lng), rng.uniform(0, 360)
                )
                assert not _matches(strips, point.latitude, point.longitude), (origin, r)


def _matches(clause: str, lat: float, lng: float) -> bool:
    """Evaluate our own filter text (only AND, OR, NOT, >=, <= on lat and lng, or one IN of
    grid cells) in Python."""
    if clause.startswith("g"):
        field, _, listed = clause.partition(" IN ")
        return f'"{cell_fields(lat, lng)[field]}"' in listed.strip("[]").split(", ")
    expr = clause.replace("AND", "and").replace("OR", "or").replace("NOT", "not")
    return bool(eval(expr, {"__builtins__": {}}, {"lat": lat, "lng": lng}))  # noqa: S307


def test_more_matches_at_one_point_than_a_request_may_fetch_is_said_not_hidden(
    meili, meili_keys, index, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(nearest, "MAX_FETCH", 3)
    index.apply([document(i, 45.5, 5.5) for i in range(5)], [])  # five sites at one address

    async def ask() -> None:
        searcher = MeiliSearcher(meili.url, meili_keys.search)
        try:
            with pytest.raises(UnboundedQuery):
                await nearest_points(searcher, "", [], ORIGIN, RADIUS_M, 4, 5)
            # Any page needs all five (they tie): with room for them, the index answers.
            monkeypatch.setattr(nearest, "MAX_FETCH", 5)
            got = await nearest_points(searcher, "", [], ORIGIN, RADIUS_M, 2, 5)
            assert len(got) == 5 and len({d for d, _ in got}) == 1
        finally:
            await searcher.close()

    asyncio.run(ask())


def test_cells_name_few_values_and_cover_little_more_than_the_circle() -> None:
    """Across the radii drivers use, the finest cells that fit: a handful to a few dozen, and
    the cells' area a small multiple of the circle's (what the points request fetches)."""
    from search import cells as grid

    for radius_km in (1, 5, 20, 50, 100, 300):
        clause = region_clause(Origin(lat=45.76, lng=4.84), radius_km * 1000, cells=True)
        field, _, listed = clause.partition(" IN ")
        names = listed.strip("[]").split(", ")
        size = grid.SIZES[grid.FIELDS.index(field)]
        assert 1 <= len(names) <= grid.MAX_CELLS
        cell_km2 = (size * 111) * (size * 111 * math.cos(math.radians(45.76)))
        ratio = len(names) * cell_km2 / (math.pi * radius_km**2)
        print(radius_km, field, len(names), round(ratio, 1))
        assert ratio < 12, (radius_km, field, len(names), ratio)


def test_a_small_first_circle_comes_with_its_documents_and_the_same_order(
    meili, meili_keys, index
) -> None:  # type: ignore[no-untyped-def]
    """A first circle expected to hold a page is fetched with the page's fields: the ranking is
    the one of points alone, and the page's documents are already there."""
    rng = random.Random(3)
    docs = [
        document(i, *around(rng, 145 * math.sqrt(rng.random()), rng.uniform(0, 360), 0))
        for i in range(600)
    ]
    index.apply(docs, [])

    async def compare() -> None:
        searcher = CountingSearcher(meili.url, meili_keys.search)
        try:
            for cells in (False, True):
                plain = await nearest_points(
                    searcher, "", ["status = active"], ORIGIN, RADIUS_M, 21, len(docs), cells
                )
                found: dict = {}
                whole = await nearest_points(
                    searcher,
                    "",
                    ["status = active"],
                    ORIGIN,
                    RADIUS_M,
                    21,
                    len(docs),
                    cells,
                    docs=found,
                )
                assert whole == plain
                assert {i for _, i in whole[:21]} <= set(found)
                assert all(
                    searcher.document(found[i]).name == f"G{int(i[3:])}" for _, i in whole[:21]
                )
        finally:
            await searcher.close()

    asyncio.run(compare())
