"""The hot path: one pooled async HTTP client to Meilisearch, answers decoded into Structs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import msgspec

from search.documents import SiteDocument
from search.index import INDEX

__all__ = ["EngineHit", "EnginePoint", "EngineResult", "EngineUnavailable", "MeiliSearcher"]


class EngineUnavailable(RuntimeError):
    """Meilisearch did not answer (or answered 5xx): the caller falls back to the database."""


class EngineHit(SiteDocument, kw_only=True):
    geo_distance: int | None = msgspec.field(default=None, name="_geoDistance")


class EngineResult(msgspec.Struct):
    hits: list[EngineHit]
    estimatedTotalHits: int = 0  # noqa: N815 - Meilisearch's name
    facetDistribution: dict[str, dict[str, int]] = {}  # noqa: N815, RUF012


class EnginePoint(msgspec.Struct):
    id: str
    lat: float
    lng: float


class EnginePoints(msgspec.Struct):
    hits: list[EnginePoint]
    estimatedTotalHits: int = 0  # noqa: N815 - Meilisearch's name


_decoder = msgspec.json.Decoder(EngineResult)
_points = msgspec.json.Decoder(EnginePoints)


class MeiliSearcher:
    """Searches with the search-only key over kept-alive connections."""

    def __init__(self, url: str, search_key: str, index: str = INDEX) -> None:
        self._client = httpx.AsyncClient(
            base_url=url,
            timeout=httpx.Timeout(5.0, connect=1.0),
            headers={
                "Authorization": f"Bearer {search_key}",
                "Content-Type": "application/json",
                # Meilisearch compresses answers when asked, at ~40 ms a response (measured
                # here): on a local link that is all cost and no gain.
                "Accept-Encoding": "identity",
            },
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        self._path = f"/indexes/{index}/search"
        self._zones: tuple[float, list[str]] = (0.0, [])

    async def search(self, body: dict[str, Any]) -> EngineResult:
        return _decoder.decode(await self._post(body))

    async def points(self, body: dict[str, Any]) -> EnginePoints:
        """Hits as (id, lat, lng) only: light enough to rank thousands by exact distance."""
        return _points.decode(
            await self._post({**body, "attributesToRetrieve": ["id", "lat", "lng"]})
        )

    async def _post(self, body: dict[str, Any]) -> bytes:
        try:
            reply = await self._client.post(self._path, content=msgspec.json.encode(body))
        except httpx.HTTPError as err:
            raise EngineUnavailable(str(err)) from err
        if reply.status_code >= 500:
            raise EngineUnavailable(f"Meilisearch answered {reply.status_code}")
        if reply.status_code != 200:
            # A 4xx here is our bug (a bad filter), not the engine being away: say so loudly.
            raise RuntimeError(f"Meilisearch refused the query: {reply.text[:500]}")
        return reply.content

    async def timezones(self) -> list[str]:
        """The time zones present in the index (cached a minute), for open-at filters."""
        fetched, zones = self._zones
        if time.monotonic() - fetched > 60:
            result = await self.search({"q": "", "limit": 0, "facets": ["tz"]})
            zones = sorted(result.facetDistribution.get("tz", {}))
            self._zones = (time.monotonic(), zones)
        return zones

    async def close(self) -> None:
        await self._client.aclose()
