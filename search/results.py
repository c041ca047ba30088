"""From matching documents to the API's answer, the same way for both backends.

``matches`` is the filter of ``query.build_filter`` written in Python, for the database
fallback; distances are geodesic (WGS84) on both, and the order is (distance, id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Protocol

import msgspec
from pyproj import Geod

from certifications.catalogue import Catalogue
from search.documents import FAR, SiteDocument, field_key, is_open, local_day_minute
from search.query import FACETS, SearchQuery

__all__ = ["Origin", "SearchItem", "SearchResponse", "distances_m", "item", "matches"]


class Origin(msgspec.Struct):
    lat: float
    lng: float
    label: str | None = None
    source: str = "coordinates"


class Address(msgspec.Struct):
    street: str | None
    postcode: str | None
    city: str
    country: str


class Location(msgspec.Struct):
    lat: float
    lng: float


class Matched(msgspec.Struct):
    scheme: str
    name: str
    status: str
    valid_until: datetime | None
    issuer: str | None


class SearchItem(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    address: Address
    location: Location
    distance_m: int
    competences: list[Matched]
    brands: list[str]
    networks: list[str]
    open_now: bool
    url: str


class SearchResponse(msgspec.Struct, kw_only=True):
    origin: Origin
    items: list[SearchItem]
    facets: dict[str, dict[str, int]]
    total_estimate: int
    next_cursor: str | None


WGS84 = Geod(ellps="WGS84")


class Located(Protocol):
    @property
    def lat(self) -> float: ...
    @property
    def lng(self) -> float: ...


def distances_m(lat: float, lng: float, docs: Sequence[Located]) -> list[float]:
    """Geodesic distances on the WGS84 ellipsoid (Karney's algorithm, as geopy's), computed
    for a whole page at once in PROJ's C code: ~1 µs a site instead of ~100 µs."""
    if not docs:
        return []
    n = len(docs)
    _, _, dist = WGS84.inv([lng] * n, [lat] * n, [d.lng for d in docs], [d.lat for d in docs])
    return [float(x) for x in dist]


def _holds(doc: SiteDocument, scheme: str, at: int, include_declared: bool) -> bool:
    window = doc.comp.get(field_key(scheme))
    if window is None:
        return False
    start, end = (window.af, window.au) if include_declared else (window.vf, window.vu)
    return start <= at < end


def matches(
    doc: SiteDocument,
    query: SearchQuery,
    catalogue: Catalogue,
    *,
    valid_at: datetime,
    open_at: datetime | None,
    own: frozenset[str] = frozenset(),
) -> bool:
    at = int(valid_at.timestamp())
    if not all(_holds(doc, s, at, query.include_declared) for s in query.competence):
        return False
    for domain in query.domain:
        schemes = [s.id for s in catalogue.schemes.values() if s.domain == domain]
        if not any(_holds(doc, s, at, query.include_declared) for s in schemes):
            return False
    wanted_brands = set(query.brand) | {"all"} if query.brand else set()
    for values, have in (
        (wanted_brands, doc.brands),
        (set(query.vehicle), doc.vehicles),
        (set(query.powertrain), doc.powertrains),
        (set(query.service), doc.services),
        (set(query.network), [*doc.networks, *(set(doc.pnetworks) & own)]),
    ):
        if values and not values & set(have):
            return False
    return open_at is None or is_open(doc.oh, *local_day_minute(open_at, doc.tz))


def text_matches(doc: SiteDocument, q: str | None) -> bool:
    """The fallback's text test: every word appears in name, organisation, city or services."""
    if not q:
        return True
    haystack = " ".join([doc.name, doc.organisation, doc.city, *doc.services]).lower()
    return all(word in haystack for word in q.lower().split())


def facet_counts(docs: Iterable[SiteDocument], wanted: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for facet in wanted:
        counts: dict[str, int] = {}
        for doc in docs:
            for value in getattr(doc, FACETS[facet]):
                counts[value] = counts.get(value, 0) + 1
        out[facet] = dict(sorted(counts.items()))
    return out


@lru_cache(maxsize=4)
def _keys(catalogue: Catalogue) -> dict[str, str]:
    return {field_key(s): s for s in catalogue.schemes}


def item(
    doc: SiteDocument,
    dist: float,
    query: SearchQuery,
    catalogue: Catalogue,
    *,
    valid_at: datetime,
    now: datetime,
    own: frozenset[str] = frozenset(),
) -> SearchItem:
    """One result: the competences asked for (or all that hold) at ``valid_at``."""
    at = int(valid_at.timestamp())
    asked = set(query.competence)
    for domain in query.domain:
        asked |= {s.id for s in catalogue.schemes.values() if s.domain == domain}
    issuers = {d.scheme: d.issuer for d in doc.details}
    by_key = _keys(catalogue)
    matched = []
    for key, window in sorted(doc.comp.items()):
        scheme = by_key.get(key)
        if scheme is None or (asked and scheme not in asked):
            continue
        if window.vf <= at < window.vu:
            status, until = "verified", window.vu
        elif query.include_declared and window.af <= at < window.au:
            status, until = "declared", window.au
        else:
            continue
        matched.append(
            Matched(
                scheme=scheme,
                name=catalogue.schemes[scheme].name.en,
                status=status,
                valid_until=None
                if until >= FAR
                else datetime.fromtimestamp(until, valid_at.tzinfo),
                issuer=issuers.get(scheme) if status == "verified" else None,
            )
        )
    return SearchItem(
        id=doc.id,
        name=doc.name,
        kind=doc.kind,
        address=Address(
            street=doc.street, postcode=doc.postcode, city=doc.city, country=doc.country
        ),
        location=Location(lat=doc.lat, lng=doc.lng),
        distance_m=round(dist),
        competences=matched,
        brands=doc.brands,
        networks=[*doc.networks, *sorted(set(doc.pnetworks) & own)],
        open_now=is_open(doc.oh, *local_day_minute(now, doc.tz)),  # as the open_at filter
        url=f"/v1/sites/{doc.id}",
    )
