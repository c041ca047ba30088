"""The search document: a projection of a site that makes every query filter a plain filter.

Competences are stored as windows per scheme (from, until, as epoch seconds), so "valid at t"
is a comparison, and opening hours as the intervals of a typical week in the site's local
minutes, so "open at t" is a comparison once t is read in the site's time zone. Both are
computed here, and the database fallback uses the very same functions, so both backends agree.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import msgspec
import opening_hours

from certifications.catalogue import Catalogue
from certifications.competences import Holding
from search import hours
from search.cells import cell_fields

__all__ = [
    "FAR",
    "PAGE_FIELDS",
    "CompetenceDetail",
    "SiteDocument",
    "SiteRecord",
    "Window",
    "field_key",
    "is_open",
    "local_day_minute",
    "next_change",
    "next_change_at",
    "project",
    "week_hours",
]

FAR = 32503680000  # 3000-01-01: "no end"


class Window(msgspec.Struct, frozen=True):
    """When a scheme holds: verified only (vf, vu), or counting declared claims too (af, au).
    0/0 means never."""

    vf: int = 0
    vu: int = 0
    af: int = 0
    au: int = 0


class CompetenceDetail(msgspec.Struct, frozen=True):
    scheme: str
    status: str
    issuer: str | None
    valid_from: int
    valid_until: int  # FAR when it has no end


class SiteRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What ``directory`` hands over to be indexed (search never reads the database)."""

    id: str
    version: int
    name: str
    organisation: str
    kind: str
    street: str | None
    postcode: str | None
    city: str
    country: str
    lat: float
    lng: float
    timezone: str
    opening_hours: str | None
    brands: list[str]
    vehicles: list[str]
    powertrains: list[str]
    services: list[str]
    languages: list[str]
    networks: list[str]  # public networks
    status: str
    private_networks: list[str] = []  # searchable only by their owners (see search.query)
    phone: str | None = None


class SiteDocument(msgspec.Struct, kw_only=True):
    # What a page of results shows (``PAGE_FIELDS``): the engine returns only these for a page.
    id: str
    name: str
    kind: str
    street: str | None
    postcode: str | None
    city: str
    country: str
    # Plain numbers, not Meilisearch's _geo: every write of a _geo field rewrites the engine's
    # whole geo tree (about a second a batch at 100k sites, measured), which no lag goal survives.
    lat: float
    lng: float
    tz: str
    oh: dict[str, int]  # opening intervals of a typical week, local minutes (see week_hours)
    brands: list[str]
    networks: list[str]
    # Members of private networks: a filter reaches this field only for a network the caller
    # owns (build_filter's ``own``), so for anyone else a private network does not exist.
    pnetworks: list[str] = []
    phone: str | None = None  # for the results' call link; older documents have none
    comp: dict[str, Window] = {}
    details: list[CompetenceDetail] = []
    # What only filters, facets and the database fallback read (defaults: a page's documents
    # come without them).
    v: int = 0
    organisation: str = ""
    status: str = ""
    opening_hours: str | None = None
    vehicles: list[str] = []
    powertrains: list[str] = []
    services: list[str] = []
    languages: list[str] = []
    competences: list[str] = []  # schemes verified at indexing time (for facets)
    domains: list[str] = []
    # The grid cells the site lies in (search/cells.py, from lat/lng: ``project`` writes them),
    # for the engine's region filters; the searcher uses them once every document has them
    # (MeiliSearcher.has_cells).
    g0: str = ""
    g1: str = ""
    g2: str = ""
    g3: str = ""


# The fields a page of results reads (search.results.item): a page's documents are fetched with
# these only, half the bytes of a whole document.
PAGE_FIELDS = [
    *SiteDocument.__struct_fields__[: SiteDocument.__struct_fields__.index("v")],
]


def field_key(scheme_id: str) -> str:
    """A scheme id as a document key: dots would read as nesting in a filter."""
    return re.sub(r"[^a-z0-9]", "_", scheme_id)


def _epoch(t: datetime | None) -> int:
    return FAR if t is None else int(t.timestamp())


def _window(spans: list[tuple[int, int]], now: int) -> tuple[int, int]:
    """Merge overlapping or touching spans; keep the one holding at ``now``, else the next one,
    else the last one that ended (so a past instant still answers right)."""
    if not spans:
        return (0, 0)
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in merged:
        if end > now:
            return (start, end)
    return (merged[-1][0], merged[-1][1])


def project(
    record: SiteRecord, holdings: Iterable[Holding], catalogue: Catalogue, now: datetime
) -> SiteDocument:
    stamp = int(now.timestamp())
    verified: dict[str, list[tuple[int, int]]] = {}
    anything: dict[str, list[tuple[int, int]]] = {}
    best: dict[str, Holding] = {}
    for h in holdings:
        if h.scheme not in catalogue:
            continue
        span = (_epoch(h.valid_from), _epoch(h.valid_until))
        for scheme in catalogue.implied_by(h.scheme):
            anything.setdefault(scheme, []).append(span)
            if h.status == "verified":
                verified.setdefault(scheme, []).append(span)
            holds = h.valid_from <= now and (h.valid_until is None or now < h.valid_until)
            current = best.get(scheme)
            if holds and (
                current is None
                or (h.status, _epoch(h.valid_until)) > (current.status, _epoch(current.valid_until))
            ):
                best[scheme] = h
    comp: dict[str, Window] = {}
    for scheme in anything:
        vf, vu = _window(verified.get(scheme, []), stamp)
        af, au = _window(anything[scheme], stamp)
        comp[field_key(scheme)] = Window(vf=vf, vu=vu, af=af, au=au)
    held_now = sorted(s for s, h in best.items() if h.status == "verified")
    return SiteDocument(
        id=record.id,
        v=record.version,
        name=record.name,
        organisation=record.organisation,
        kind=record.kind,
        street=record.street,
        postcode=record.postcode,
        city=record.city,
        country=record.country,
        lat=record.lat,
        lng=record.lng,
        status=record.status,
        tz=record.timezone,
        opening_hours=record.opening_hours,
        oh=week_hours(record.opening_hours),
        brands=record.brands,
        vehicles=record.vehicles,
        powertrains=record.powertrains,
        services=record.services,
        languages=record.languages,
        networks=record.networks,
        pnetworks=record.private_networks,
        phone=record.phone,
        **cell_fields(record.lat, record.lng),
        competences=held_now,
        domains=sorted({catalogue.schemes[s].domain for s in held_now}),
        comp=comp,
        details=[
            CompetenceDetail(
                scheme=s,
                status=h.status,
                issuer=h.issuer,
                valid_from=_epoch(h.valid_from),
                valid_until=_epoch(h.valid_until),
            )
            for s, h in sorted(best.items())
        ],
    )


def local_day_minute(t: datetime, timezone: str) -> tuple[int, int]:
    """Instant ``t`` read in ``timezone``: (weekday, Monday = 0; minute of the day)."""
    local = t.astimezone(ZoneInfo(timezone))
    return local.weekday(), local.hour * 60 + local.minute


def is_open(hours: dict[str, int], day: int, minute: int) -> bool:
    """The test the ``open_at`` filter makes, on a document's ``oh`` field."""
    return any(
        hours.get(f"d{day}s{i}", 1441) <= minute < hours.get(f"d{day}e{i}", -1)
        for i in range(MAX_INTERVALS)
    )


def next_change(hours: dict[str, int], day: int, minute: int) -> tuple[int, int] | None:
    """When the state read by ``is_open`` next flips, from local (day, minute): (days ahead,
    minute of that day), or None when the week is all open or all closed. Spans that end at
    midnight and start again at midnight are one span: a site open all night does not
    "close at 24:00"."""
    # A page shows a few dozen weeks, most of them alike: the edges are worked out once a week
    # (the key is the values in week_hours's order) and each call is a bisection.
    edges = _edges(tuple(hours.items()))
    if not edges:
        return None
    now = day * 1440 + minute
    at = edges[bisect_right(edges, now)]  # the list runs on past the week's end: never past it
    return divmod(at - day * 1440, 1440)[0], at % 1440


@lru_cache(maxsize=4096)
def _edges(items: tuple[tuple[str, int], ...]) -> tuple[int, ...]:
    """Every minute of the week (Monday 00:00 = 0) the state flips, then the same a week on."""
    hours = dict(items)
    spans = sorted(
        (d * 1440 + hours[f"d{d}s{i}"], d * 1440 + hours[f"d{d}e{i}"])
        for d in range(7)
        for i in range(MAX_INTERVALS)
        if f"d{d}s{i}" in hours
    )
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    if not merged or merged == [[0, 7 * 1440]]:
        return ()
    if len(merged) > 1 and merged[0][0] == 0 and merged[-1][1] == 7 * 1440:
        merged[0][0] = merged.pop()[0] - 7 * 1440  # Sunday night runs into Monday morning
    week = sorted({e % (7 * 1440) for span in merged for e in span})
    return (*week, *(e + 7 * 1440 for e in week), *(e + 14 * 1440 for e in week))


def next_change_at(hours: dict[str, int], timezone: str, now: datetime) -> datetime | None:
    """``next_change`` as an instant in the site's zone ("closes at 18:00" there)."""
    local = now.astimezone(ZoneInfo(timezone))
    found = next_change(hours, local.weekday(), local.hour * 60 + local.minute)
    if found is None:
        return None
    day = local.date() + timedelta(days=found[0])
    return datetime(
        day.year, day.month, day.day, found[1] // 60, found[1] % 60, tzinfo=local.tzinfo
    )


@lru_cache(maxsize=4096)
def week_hours(expression: str | None) -> dict[str, int]:
    """Opening intervals of a typical week, in local minutes: ``d{day}s{i}``/``d{day}e{i}`` is
    the start/end of the day's i-th interval (Monday = 0; at most MAX_INTERVALS a day).

    The week evaluated is a fixed reference week without public holidays, so the intervals do
    not drift with the calendar; rules by date or season are read as of that week.
    """
    if not expression:
        return {}
    try:
        weekly = hours.week(expression)
    except hours.HoursError:
        weekly = None  # refused by validation today; an older stored value is read as before
    days = _library_days(expression) if weekly is None else _days(weekly)
    result: dict[str, int] = {}
    for day, spans in enumerate(days):
        while len(spans) > MAX_INTERVALS:  # close the shortest gap: rare, and never loses open time
            gap = min(range(len(spans) - 1), key=lambda i: spans[i + 1][0] - spans[i][1])
            spans[gap : gap + 2] = [[spans[gap][0], spans[gap + 1][1]]]
        for i, (begin_min, end_min) in enumerate(spans):
            result[f"d{day}s{i}"] = begin_min
            result[f"d{day}e{i}"] = end_min
    return result


def _days(weekly: bytearray) -> list[list[list[int]]]:
    """Each day's open spans [start, end) in minutes, from a week of open minutes."""
    days: list[list[list[int]]] = [[] for _ in range(7)]
    for day in range(7):
        base, minute = day * 1440, 0
        while minute < 1440:
            if weekly[base + minute]:
                end = minute
                while end < 1440 and weekly[base + end]:
                    end += 1
                days[day].append([minute, end])
                minute = end
            else:
                minute += 1
    return days


def _library_days(expression: str) -> list[list[list[int]]]:
    """Each day's open spans, read by the opening-hours library (values beyond a plain week)."""
    oh = opening_hours.OpeningHours(hours.normalise(expression))
    start = _REFERENCE_MONDAY
    days: list[list[list[int]]] = [[] for _ in range(7)]
    for begin, end, state, _comment in oh.intervals(start, start + timedelta(days=7)):
        if not str(state).lower().endswith("open"):
            continue
        first = int((max(begin, start) - start).total_seconds() // 60)
        last = int(
            (
                (min(end, start + timedelta(days=7)) if end else start + timedelta(days=7)) - start
            ).total_seconds()
            // 60
        )
        while first < last:  # split at midnights: each day holds its own intervals
            day, minute = divmod(first, 1440)
            stop = min(last, (day + 1) * 1440)
            spans = days[day]
            if spans and spans[-1][1] == minute:
                spans[-1][1] = stop - day * 1440
            else:
                spans.append([minute, stop - day * 1440])
            first = stop
    return days


MAX_INTERVALS = 4
# A Monday in a week with no French, German or British public holiday.
_REFERENCE_MONDAY = datetime(2025, 3, 10)
