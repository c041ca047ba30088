"""A search query: its limits, its translation into a Meilisearch filter, and its cursor.

Every value that reaches a filter string is either a number we computed, a catalogue scheme key,
or a string checked against a strict pattern and quoted: user text is never spliced in raw.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from certifications.catalogue import DOMAINS, Catalogue
from search.documents import MAX_INTERVALS, field_key, local_day_minute

__all__ = [
    "FACETS",
    "Cursor",
    "CursorError",
    "Origin",
    "SearchContext",
    "SearchQuery",
    "build_filter",
    "quote",
]

Slug = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
SchemeId = Annotated[str, Meta(pattern=r"^[a-z0-9]+(\.[a-z0-9-]+)+$", max_length=80)]
NetworkId = Annotated[str, Meta(pattern=r"^nw_[a-z0-9]{1,32}$")]
Facet = Literal["competence", "domain", "brand", "network", "vehicle", "powertrain", "service"]
Few = Meta(max_length=20)

FACETS: dict[str, str] = {
    "competence": "competences",
    "domain": "domains",
    "brand": "brands",
    "network": "networks",
    "vehicle": "vehicles",
    "powertrain": "powertrains",
    "service": "services",
}
MAX_RADIUS_KM = 300.0
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


class SearchQuery(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lng: Annotated[float, Meta(ge=-180, le=180)] | None = None
    place: Annotated[str, Meta(min_length=1, max_length=120)] | None = None
    radius_km: Annotated[float, Meta(gt=0, le=MAX_RADIUS_KM)] = 25.0
    competence: Annotated[list[SchemeId], Few] = []
    job: Annotated[list[Slug], Few] = []  # repair jobs (certifications/jobs.toml), each any of
    domain: Annotated[list[Slug], Few] = []
    brand: Annotated[list[Slug], Few] = []
    vehicle: Annotated[list[Literal["car", "van", "truck", "motorcycle", "bus"]], Few] = []
    powertrain: Annotated[
        list[Literal["ice", "hev", "phev", "bev", "fcev", "lpg", "cng"]], Few
    ] = []
    service: Annotated[list[Slug], Few] = []
    network: Annotated[list[NetworkId], Few] = []
    open_at: datetime | None = None
    open_now: bool = False
    valid_at: datetime | None = None
    include_declared: bool = False
    q: Annotated[str, Meta(max_length=200)] | None = None
    sort: Literal["distance", "relevance"] = "distance"
    limit: Annotated[int, Meta(ge=1, le=100)] = 20
    cursor: Annotated[str, Meta(max_length=200)] | None = None
    facets: Annotated[list[Facet], Meta(max_length=7)] = []

    def problems(self, catalogue: Catalogue) -> list[tuple[str, str]]:
        """Checks across fields and against the catalogue: (pointer, detail) pairs."""
        out = []
        if self.place is None and (self.lat is None or self.lng is None):
            out.append(("/lat", "give lat and lng, or place"))
        if self.place is not None and self.lat is not None:
            out.append(("/place", "give place or lat/lng, not both"))
        for i, scheme in enumerate(self.competence):
            if scheme not in catalogue:
                out.append((f"/competence/{i}", f"{scheme!r} is not in the catalogue"))
        for i, domain in enumerate(self.domain):
            if domain not in DOMAINS:
                out.append((f"/domain/{i}", f"{domain!r} is not a competence domain"))
        for name in ("open_at", "valid_at"):
            value = getattr(self, name)
            if value is None:
                continue
            if value.tzinfo is None:
                out.append((f"/{name}", "an RFC 3339 instant needs its offset (Z or ±hh:mm)"))
            elif not EARLIEST <= value < LATEST:
                # The documents' windows end at the year 3000 ("no end"); past it, nothing holds.
                out.append((f"/{name}", "must be between 1970-01-01 and 3000-01-01"))
        for name in ("place", "q"):
            value = getattr(self, name)
            if value is not None and any(ord(c) < 32 or 127 <= ord(c) < 160 for c in value):
                out.append((f"/{name}", "control characters are not allowed"))
        return out

    def fingerprint(self) -> str:
        """What a cursor is bound to: every parameter but the cursor itself and the facets
        (counts asked or not, the matches and their order are the same: a results page's next
        link, which asks for facets, is also a valid API query)."""
        fields = msgspec.structs.asdict(self)
        fields.pop("cursor")
        fields.pop("facets")
        return hashlib.sha256(msgspec.json.encode(fields)).hexdigest()[:16]


def quote(value: str) -> str:
    """A Meilisearch filter string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _any_of(field: str, values: Iterable[str]) -> str:
    return "(" + " OR ".join(f"{field} = {quote(v)}" for v in values) + ")"


def _holds(scheme: str, at: int, include_declared: bool) -> str:
    start, end = ("af", "au") if include_declared else ("vf", "vu")
    key = field_key(scheme)
    return f"(comp.{key}.{start} <= {at} AND comp.{key}.{end} > {at})"


def build_filter(
    ctx: SearchContext, catalogue: Catalogue, timezones: Iterable[str] = ()
) -> list[str]:
    """The filter, as a list of clauses Meilisearch ANDs together (geo excluded). ``ctx.own``:
    the private networks the caller owns; any other network id is looked up among public ones
    only, so a private network asked for by someone else matches nothing, as if it did not exist.
    ``timezones``: those present in the index, for the open-at clause."""
    query, open_at, own = ctx.query, ctx.open_at, ctx.own
    at = int(ctx.valid_at.timestamp())
    clauses = ['status = "active"']
    for scheme in query.competence:
        # A site holding a scheme that implies the one asked for holds it too: the document
        # stores competences already closed under implies, so one field answers.
        clauses.append(_holds(scheme, at, query.include_declared))
    for domain in query.domain:
        schemes = [s.id for s in catalogue.schemes.values() if s.domain == domain]
        clauses.append(
            "(" + " OR ".join(_holds(s, at, query.include_declared) for s in schemes) + ")"
        )
    for group in ctx.any_of:
        clauses.append(
            "(" + " OR ".join(_holds(s, at, query.include_declared) for s in group) + ")"
        )
    for field, values in (
        ("brands", query.brand),
        ("vehicles", query.vehicle),
        ("powertrains", query.powertrain),
        ("services", query.service),
    ):
        if values:
            if field == "brands":
                values = [*values, "all"]  # a workshop for every brand serves this one too
            clauses.append(_any_of(field, values))
    if query.network:
        public = [n for n in query.network if n not in own]
        private = [n for n in query.network if n in own]
        either = [_any_of("networks", public)] if public else []
        either += [_any_of("pnetworks", private)] if private else []
        clauses.append("(" + " OR ".join(either) + ")")
    if open_at is not None:
        per_zone = []
        for zone in sorted(set(timezones)):
            day, minute = local_day_minute(open_at, zone)
            spans = " OR ".join(
                f"(oh.d{day}s{i} <= {minute} AND oh.d{day}e{i} > {minute})"
                for i in range(MAX_INTERVALS)
            )
            per_zone.append(f"(tz = {quote(zone)} AND ({spans}))")
        clauses.append("(" + " OR ".join(per_zone) + ")" if per_zone else 'tz = "-"')
    return clauses


class CursorError(ValueError):
    pass


class Cursor(msgspec.Struct, array_like=True):
    """Where the next page starts: an offset into the engine's order, and (for distance order)
    the last (distance, id) returned, so re-ranking by exact distance never repeats or skips."""

    offset: int
    fingerprint: str
    last_mm: int = -1
    last_id: str = ""

    def encode(self) -> str:
        return base64.urlsafe_b64encode(msgspec.json.encode(self)).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str, fingerprint: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            cursor = msgspec.json.decode(raw, type=cls)
        except (binascii.Error, ValueError, msgspec.DecodeError) as err:
            raise CursorError("not a cursor returned by this API") from err
        if cursor.fingerprint != fingerprint or not 0 < cursor.offset <= 10_000:
            raise CursorError("this cursor belongs to another query")
        return cursor


class Origin(msgspec.Struct):
    lat: float
    lng: float
    label: str | None = None
    source: str = "coordinates"


class SearchContext(msgspec.Struct, frozen=True, kw_only=True):
    """One search, resolved: the checked query, where it is from, where the page starts, and
    the instants it is read at. Both backends take this and give the same answer."""

    query: SearchQuery
    origin: Origin
    cursor: Cursor | None
    valid_at: datetime
    open_at: datetime | None
    now: datetime
    own: frozenset[str] = frozenset()  # the caller's private networks
    # Groups of schemes a site must hold one of each (a job's competences), resolved from
    # ``query.job`` against the jobs list.
    any_of: tuple[tuple[str, ...], ...] = ()
    # Schemes listed in each item when held, without filtering (a repair intent's preferences).
    report: frozenset[str] = frozenset()
