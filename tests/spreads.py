"""Generated search documents spread unevenly around one point: an empty centre, a few sparse
sites, a dense town at the edge of a 150 km circle and another in the corner of its box (the
shape that sent deep pages to the database). For tests/search/test_nearest.py and
bench/deep_pages.py."""

from __future__ import annotations

import random
from typing import Any

from geopy.distance import geodesic

from search.cells import cell_fields
from search.documents import SiteDocument
from search.query import Origin
from search.searcher import EnginePoints, MeiliSearcher

ORIGIN = Origin(lat=45.0, lng=5.0, label="origin", source="point")
RADIUS_M = 150_000.0


def document(i: int, lat: float, lng: float) -> SiteDocument:
    return SiteDocument(
        id=f"st_{i:07d}", v=1, name=f"G{i}", organisation="org", kind="independent",
        street=None, postcode=None, city="X", country="FR", lat=lat, lng=lng, status="active",
        tz="Europe/Paris", opening_hours=None, oh={}, brands=[], vehicles=[], powertrains=[],
        services=[], languages=[], networks=[], competences=[], domains=[], comp={}, details=[],
        **cell_fields(lat, lng),
    )  # fmt: skip


def around(rng: random.Random, km: float, bearing: float, spread_km: float) -> tuple[float, float]:
    """A point ``km`` from ORIGIN on ``bearing``, moved up to ``spread_km`` in any direction."""
    point = geodesic(kilometers=km).destination((ORIGIN.lat, ORIGIN.lng), bearing)
    jitter = geodesic(kilometers=rng.uniform(0, spread_km)).destination(
        (point.latitude, point.longitude), rng.uniform(0, 360)
    )
    return jitter.latitude, jitter.longitude


def uneven(sparse: int, town: int, seed: int) -> list[SiteDocument]:
    rng = random.Random(seed)
    points = [around(rng, rng.uniform(20, 140), rng.uniform(0, 360), 0) for _ in range(sparse)]
    points += [around(rng, 141, 45, 3) for _ in range(town)]  # a town at the edge (inside)
    points += [around(rng, 200, 225, 3) for _ in range(town)]  # the box's corner (outside)
    return [document(i, lat, lng) for i, (lat, lng) in enumerate(points)]


class CountingSearcher(MeiliSearcher):
    """The real searcher, counting the point requests a distance search makes."""

    requests = 0

    async def points(self, body: dict[str, Any]) -> EnginePoints:
        self.requests += 1
        return await super().points(body)
