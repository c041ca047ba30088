"""Geocoding: an offline gazetteer by default, a geopy web provider when one is configured.

The gazetteer is built from La Poste's postcode base (France, ODbL) and GeoNames postcodes (BE, CH,
DE, GB, LU, MC; CC BY 4.0), shipped in ``search/data/gazetteer``.

Names are matched without accents, case, hyphens or apostrophes, "Saint" and "St" alike. Former
communes (Segré, Brantôme, Pouancé … merged into "communes nouvelles" since 2015) are La Poste's
``Ligne_5``: they are found at the current commune's coordinates and labelled with it, and a
current commune of the same name wins over a former one. CEDEX (business) postcodes are not in
the base: "69421 LYON CEDEX 03" is found as Lyon within the postcode's département.
"""

from __future__ import annotations

import bisect
import csv
import logging
import math
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import msgspec

__all__ = [
    "GeoPoint",
    "Gazetteer",
    "Geocoder",
    "GeopyGeocoder",
    "default_gazetteer",
    "normalise_name",
]

log = logging.getLogger("atelier.geocode")
DATA = Path(__file__).parent / "data" / "gazetteer"
DEFAULT_COUNTRIES = ("FR", "BE", "LU", "MC", "CH", "DE", "GB")


class GeoPoint(msgspec.Struct, frozen=True):
    lat: float
    lng: float
    label: str
    source: str
    precision: Literal["address", "postcode", "locality"]


class Geocoder(Protocol):
    def geocode_address(
        self, *, country: str, postcode: str | None, city: str | None, street: str | None
    ) -> GeoPoint | None: ...


_ABBREVIATIONS = {"SAINT": "ST", "SAINTE": "STE"}


def normalise_name(name: str) -> str:
    """'Saint-Étienne' and La Poste's 'ST ETIENNE' both become 'ST ETIENNE'."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().upper()
    words = re.findall(r"[A-Z0-9]+", plain)
    return " ".join(_ABBREVIATIONS.get(w, w) for w in words)


def normalise_postcode(country: str, postcode: str) -> str:
    code = postcode.upper().replace(" ", "")
    if country == "LU":
        code = code.removeprefix("L-")
    return code


class _Place(msgspec.Struct, frozen=True, array_like=True):
    name: str
    lat: float
    lng: float
    postcode: str = ""
    now: str | None = None  # for a former commune, the commune it is part of today

    @property
    def label(self) -> str:
        return f"{self.name} (now {self.now})" if self.now else self.name


Row = tuple[str, str, str, float, float] | tuple[str, str, str, float, float, str | None]
_CEDEX = re.compile(r"\bCEDEX\b(?:\s*\d{1,3})?", re.IGNORECASE)


def _department(postcode: str) -> str:
    return postcode[:3] if postcode.startswith(("97", "98")) else postcode[:2]


class Gazetteer:
    """Postcodes and localities with coordinates, indexed by country. Rows are (country,
    postcode, name, lat, lng) and, for a former commune, the name of the commune it is now."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self._by_postcode: dict[tuple[str, str], list[_Place]] = defaultdict(list)
        self._by_name: dict[tuple[str, str], list[_Place]] = defaultdict(list)
        self._by_former_name: dict[tuple[str, str], list[_Place]] = defaultdict(list)
        for country, postcode, name, lat, lng, *rest in rows:
            now = rest[0] if rest else None
            code = normalise_postcode(country, postcode)
            place = _Place(name, lat, lng, code, now)
            self._by_postcode[(country, code)].append(place)
            names = self._by_former_name if now else self._by_name
            names[(country, normalise_name(name))].append(place)
        for places in self._by_postcode.values():
            places.sort(key=lambda p: p.now is not None)  # current communes first
        self._localities: dict[tuple[str, str], GeoPoint | None] = {}

    @classmethod
    def from_files(cls, folder: Path = DATA) -> Gazetteer:
        return cls(_read_laposte(folder) + _read_geonames(folder))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_postcode.values())

    def geocode_address(
        self, *, country: str, postcode: str | None, city: str | None, street: str | None = None
    ) -> GeoPoint | None:
        """The locality's centre: the commune of that postcode and name, else either alone."""
        wanted = normalise_name(_CEDEX.sub(" ", city)) if city else None
        code = normalise_postcode(country, _CEDEX.sub("", postcode)) if postcode else None
        if code:
            places = self._by_postcode.get((country, code), [])
            if places:
                named = [
                    p for p in places if wanted and _same_place(normalise_name(p.name), wanted)
                ]
                # "49500 Segré": the former commune SEGRE, not the prefix match SEGRE EN ANJOU BLEU.
                named.sort(key=lambda p: normalise_name(p.name) != wanted)
                best = named[0] if named else places[0]
                return GeoPoint(best.lat, best.lng, f"{code} {best.label}", "gazetteer", "postcode")
        if wanted:
            # A postcode the base does not hold (a CEDEX one, most often) still says where: the
            # named locality is looked for in its département first.
            within = _department(code) if code and country == "FR" else None
            return self.locality(country, wanted, within) or (
                self.locality(country, wanted) if within else None
            )
        return None

    def locality(self, country: str, name: str, department: str | None = None) -> GeoPoint | None:
        key = (country, normalise_name(name))
        if department is None:  # the common case, and the same answer every time: kept
            if key not in self._localities:
                self._localities[key] = self._locality(key, None)
            return self._localities[key]
        return self._locality(key, department)

    def _locality(self, key: tuple[str, str], department: str | None) -> GeoPoint | None:
        places = self._by_name.get(key) or self._by_former_name.get(key, [])
        if department is not None:
            places = [p for p in places if _department(p.postcode) == department]
        if not places:
            return None
        # One name may be several communes (there are many Saint-Denis): prefer the place with the
        # most postcode rows nearby, which is the larger town.
        cluster = max(places, key=lambda p: sum(_km(p, q) < 30 for q in places))
        near = [q for q in places if _km(cluster, q) < 30]
        lat = sum(q.lat for q in near) / len(near)
        lng = sum(q.lng for q in near) / len(near)
        label = cluster.name.title() + (f" (now {cluster.now.title()})" if cluster.now else "")
        return GeoPoint(lat, lng, label, "gazetteer", "locality")

    def place(self, text: str, countries: tuple[str, ...] = DEFAULT_COUNTRIES) -> GeoPoint | None:
        """A place typed by a person: "69003", "Lyon", "69003 Lyon", "Lyon, FR", "BE 1000"."""
        words = text.replace(",", " ").split()
        wanted = [
            w.upper()
            for w in words
            if len(w) == 2 and w.isalpha() and w.upper() in countries and len(words) > 1
        ]
        words = [w for w in words if w.upper() not in wanted]
        order = tuple(wanted) + tuple(c for c in countries if c not in wanted)
        codes = [w for w in words if any(ch.isdigit() for ch in w)]
        name = " ".join(w for w in words if w not in codes) or None
        for country in order:
            for code in codes or [None]:  # type: ignore[list-item]
                point = self.geocode_address(country=country, postcode=code, city=name)
                if point is not None:
                    # The person's words, and what a former commune is part of today.
                    now = point.label.partition(" (now ")[2]
                    label = f"{text.strip()} (now {now}" if now else text.strip()
                    return msgspec.structs.replace(point, label=label)
        return None

    def suggest(
        self, text: str, limit: int = 8, countries: tuple[str, ...] = DEFAULT_COUNTRIES
    ) -> list[tuple[GeoPoint, str | None, str]]:
        """Places whose name (or postcode, when ``text`` starts with a digit) starts with what a
        person has typed so far: (point, postcode, country), the exact name first, then current
        communes before former ones, larger places (more postcode rows) first."""
        wanted = [c for c in countries if c in self._countries()]
        if text.strip()[:1].isdigit():
            prefix = text.upper().replace(" ", "")
            found: list[tuple[GeoPoint, str | None, str]] = []
            for country, code in self._prefixed(self._postcode_keys(), prefix, wanted, limit):
                place = self._by_postcode[(country, code)][0]
                label = f"{code} {place.name.title()}"
                found.append(
                    (GeoPoint(place.lat, place.lng, label, "gazetteer", "postcode"), code, country)
                )
            return found
        key = normalise_name(text)
        if not key:
            return []
        ranked: list[tuple[tuple[bool, bool, int, int, str], str, str, list[_Place]]] = []
        for country, name in self._prefixed(self._name_keys(), key, wanted, None):
            current = self._by_name.get((country, name), [])
            places = current or self._by_former_name.get((country, name), [])
            rank = (name != key, not current, -len(places), wanted.index(country), name)
            ranked.append((rank, country, name, places))
        ranked.sort(key=lambda r: r[0])
        named: list[tuple[GeoPoint, str | None, str]] = []
        for _, country, name, places in ranked[:limit]:
            point = self.locality(country, name)
            if point is not None:
                named.append((point, min(p.postcode for p in places) or None, country))
        return named

    @cache  # noqa: B019 - one gazetteer a process, kept for its life
    def _countries(self) -> frozenset[str]:
        return frozenset(c for c, _ in self._by_postcode)

    @cache  # noqa: B019
    def _name_keys(self) -> list[tuple[str, str]]:
        """(normalised name, country), sorted: a prefix is a contiguous run."""
        return sorted({(n, c) for c, n in [*self._by_name, *self._by_former_name]})

    @cache  # noqa: B019
    def _postcode_keys(self) -> list[tuple[str, str]]:
        return sorted({(code, c) for c, code in self._by_postcode})

    @staticmethod
    def _prefixed(
        keys: list[tuple[str, str]], prefix: str, countries: list[str], limit: int | None
    ) -> list[tuple[str, str]]:
        """(country, key) of the keys starting with ``prefix``, in countries' order of preference
        for postcodes (``limit`` of them), all of them for names (ranked by the caller)."""
        start = bisect.bisect_left(keys, (prefix, ""))
        out = []
        for key, country in keys[start:]:
            if not key.startswith(prefix):
                break
            if country in countries:
                out.append((country, key))
        if limit is not None:
            out.sort(key=lambda x: (countries.index(x[0]), x[1]))
            out = out[:limit]
        return out

    def places(self, country: str) -> list[tuple[str, str, float, float]]:
        """Every (postcode, name, lat, lng) of a country, for demo data and benchmarks."""
        return [
            (code, p.name, p.lat, p.lng)
            for (c, code), items in self._by_postcode.items()
            if c == country
            for p in items
        ]


def _same_place(a: str, b: str) -> bool:
    return a == b or a.startswith(b + " ") or b.startswith(a + " ")


def _km(a: _Place, b: _Place) -> float:
    """Equirectangular distance: within a few tenths of a percent of the geodesic at the 30 km
    that clustering asks about, and ~100× cheaper. The geodesic made `place=Berlin` (190
    postcodes, every pair compared) take 7 s a search."""
    x = math.radians(b.lng - a.lng) * math.cos(math.radians((a.lat + b.lat) / 2))
    y = math.radians(b.lat - a.lat)
    return 6371.0088 * math.hypot(x, y)


def _read_laposte(folder: Path) -> list[Row]:
    rows: list[Row] = []
    seen: set[tuple[str, str]] = set()
    with (folder / "fr_laposte_hexasmal.csv").open(encoding="utf-8", newline="") as fh:
        for rec in csv.DictReader(fh, delimiter=";"):
            coords = (rec.get("coordonnees_gps") or "").split(",")
            if len(coords) != 2 or not coords[0].strip():
                continue  # some rows carry no coordinates
            lat, lng = float(coords[0]), float(coords[1])
            postcode = rec["Code_postal"].zfill(5)
            # Index the commune's own name ("LYON 03") and its routing label ("LYON").
            for name in dict.fromkeys((rec["Nom_commune"], rec["Libellé_d_acheminement"])):
                if (postcode, name) not in seen:
                    seen.add((postcode, name))
                    rows.append(("FR", postcode, name, lat, lng))
            # Ligne_5 names a former commune (or a hamlet) served from this postcode: found at
            # the current commune's place, and labelled with it.
            former = (rec.get("Ligne_5") or "").strip()
            if former and (postcode, former) not in seen:
                seen.add((postcode, former))
                rows.append(("FR", postcode, former, lat, lng, rec["Nom_commune"]))
    return rows


def _read_geonames(folder: Path) -> list[Row]:
    rows: list[Row] = []
    for path in sorted(folder.glob("geonames_*.txt")):
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                cols = line.rstrip("\n").split("\t")
                if len(cols) < 11 or not cols[9] or not cols[10]:
                    continue
                rows.append((cols[0], cols[1], cols[2], float(cols[9]), float(cols[10])))
    return rows


_lock = threading.Lock()


@cache
def _load() -> Gazetteer:
    return Gazetteer.from_files()


def default_gazetteer() -> Gazetteer:
    """The shipped gazetteer, loaded once per process (about 100k places)."""
    with _lock:
        return _load()


class GeopyGeocoder:
    """A geopy web provider (Nominatim, BAN France) with the gazetteer as fallback.

    Providers limit request rates (Nominatim: one a second), so calls go through geopy's
    RateLimiter and answers are cached for the life of the process.
    """

    def __init__(
        self, provider: object, fallback: Geocoder, min_delay_seconds: float = 1.0
    ) -> None:
        from geopy.extra.rate_limiter import RateLimiter

        self._geocode = RateLimiter(
            provider.geocode,  # type: ignore[attr-defined]
            min_delay_seconds=min_delay_seconds,
            max_retries=1,
            swallow_exceptions=True,
        )
        self._fallback = fallback
        self._cache: dict[str, GeoPoint | None] = {}

    def geocode_address(
        self, *, country: str, postcode: str | None, city: str | None, street: str | None
    ) -> GeoPoint | None:
        query = ", ".join(x for x in (street, postcode, city, country) if x)
        if query not in self._cache:
            found = self._geocode(query)
            self._cache[query] = (
                GeoPoint(found.latitude, found.longitude, found.address, "provider", "address")
                if found is not None
                else None
            )
        return self._cache[query] or self._fallback.geocode_address(
            country=country, postcode=postcode, city=city, street=street
        )


def make_geocoder(name: str, user_agent: str) -> Geocoder:
    """The configured geocoder: 'offline' (default), 'nominatim' or 'ban'."""
    gazetteer = default_gazetteer()
    if name == "offline":
        return gazetteer
    from geopy.geocoders import BANFrance, Nominatim

    provider = Nominatim(user_agent=user_agent) if name == "nominatim" else BANFrance()
    return GeopyGeocoder(provider, fallback=gazetteer)
