"""What the benchmarks compare the API with: the API's own engine requests for a query, replayed
straight to Meilisearch over the leanest client (the engine column of search_bench.py and
search_gap.py), and the brute-force geodesic reference that recall is measured against."""

from __future__ import annotations

import http.client
import math
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import msgspec

from certifications.catalogue import default_catalogue
from search import nearest
from search.index import INDEX
from search.query import Origin, SearchContext, SearchQuery, build_filter
from search.results import WGS84, distances_m, matches


def as_query(params: dict) -> SearchQuery:
    fields = dict(params)
    if "competence" in fields:
        fields["competence"] = [fields["competence"]]
    return msgspec.convert(fields, SearchQuery, strict=False)


class Engine:
    """A lean keep-alive connection straight to Meilisearch (http.client: the least client
    overhead Python offers), timing only the round trips."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port)
        self.path = f"/indexes/{INDEX}/search"
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
        }
        self.spent = 0.0

    def post(self, body: dict) -> dict:
        payload = msgspec.json.encode(body)
        started = time.perf_counter()
        self.conn.request("POST", self.path, body=payload, headers=self.headers)
        reply = self.conn.getresponse()
        content = reply.read()
        self.spent += time.perf_counter() - started
        assert reply.status == 200, content[:300]
        return msgspec.json.decode(content)


def context(query: SearchQuery, origin: Origin) -> SearchContext:
    """The query read now, as the API reads one without a cursor."""
    now = datetime.now(UTC)
    return SearchContext(
        query=query, origin=origin, cursor=None, valid_at=now, open_at=None, now=now
    )


def engine_sequence(engine: Engine, params: dict) -> float:
    """The engine requests the API makes for this query (search/nearest.py: the count over
    the radius, the growing circles as points, the page's documents), sent straight to
    Meilisearch; returns the milliseconds spent in them."""
    query = as_query(params)
    origin = Origin(lat=query.lat, lng=query.lng)  # type: ignore[arg-type]
    clauses = build_filter(context(query, origin), default_catalogue())
    radius = query.radius_km * 1000
    needed = query.limit + 1
    engine.spent = 0.0
    total = engine.post(
        {"q": "", "limit": 0, "filter": [*clauses, nearest.region_clause(origin, radius)]}
    )["estimatedTotalHits"]
    if total == 0:
        return engine.spent * 1000
    cap = min(nearest.MAX_FETCH, max(1000, 4 * needed))
    r = radius if total <= cap else radius * min(1.0, math.sqrt(2.5 * needed / total))
    r = max(r, min(radius, 500.0))
    while True:
        reply = engine.post(
            {
                "q": "",
                "limit": cap,
                "attributesToRetrieve": ["id", "lat", "lng"],
                "filter": [*clauses, nearest.region_clause(origin, r)],
            }
        )
        hits = reply["hits"]
        if reply["estimatedTotalHits"] > cap and len(hits) >= cap:
            r *= 0.7 * math.sqrt(cap / reply["estimatedTotalHits"])
            continue
        n = len(hits)
        dists = (
            list(
                WGS84.inv(
                    [query.lng] * n,
                    [query.lat] * n,
                    [h["lng"] for h in hits],
                    [h["lat"] for h in hits],
                )[2]
            )
            if n
            else []
        )
        inside = sorted((d, h["id"]) for d, h in zip(dists, hits, strict=True) if d <= r)
        if len(inside) >= needed or r >= radius:
            break
        r = min(radius, r * max(2.0, math.sqrt(needed / max(len(inside), 1)) * 1.3))
    page = [sid for _, sid in inside[:needed]]
    if page:
        listed = ", ".join(f'"{i}"' for i in page)
        engine.post(
            {
                "q": "",
                "limit": len(page),
                "attributesToRetrieve": nearest.RETRIEVED,
                "filter": f"id IN [{listed}]",
            }
        )
    return engine.spent * 1000


def reference_top(records, docs_by_id, params, k=20) -> list[str]:
    """Brute force: every site, exact geodesic distance, the same filter rules."""
    query = as_query(params)
    radius = query.radius_km * 1000
    dlat = radius / 111_000 * 1.05
    dlng = dlat / max(math.cos(math.radians(query.lat)), 0.01)
    ctx = context(query, Origin(lat=query.lat, lng=query.lng))  # type: ignore[arg-type]
    near = [
        docs_by_id[r.id]
        for r in records
        if abs(r.lat - query.lat) <= dlat and abs(r.lng - query.lng) <= dlng
    ]
    found = [
        (int(d * 1000), doc.id)
        for d, doc in zip(distances_m(query.lat, query.lng, near), near, strict=True)
        if d <= radius and matches(doc, ctx, default_catalogue())
    ]
    return [sid for _, sid in sorted(found)[:k]]
