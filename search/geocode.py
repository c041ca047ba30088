"""Geocoding: an offline gazetteer by default, a geopy web provider when one is configured.

The gazetteer is built from La Poste's postcode base (France, ODbL) and GeoNames postcodes (BE, CH,
DE, GB, LU, MC; CC BY 4.0), shipped in ``search/data/gazetteer``.
"""

from __future__ import annotations

import csv
import logging
import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Literal, Protocol

import msgspec
from geopy.distance import geodesic

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


class Gazetteer:
    """Postcodes and localities with coordinates, indexed by country."""

    def __init__(self, rows: Iterable[tuple[str, str, str, float, float]]) -> None:
        self._by_postcode: dict[tuple[str, str], list[_Place]] = defaultdict(list)
        self._by_name: dict[tuple[str, str], list[_Place]] = defaultdict(list)
        for country, postcode, name, lat, lng in rows:
            place = _Place(name, lat, lng)
            self._by_postcode[(country, normalise_postcode(country, postcode))].append(place)
            self._by_name[(country, normalise_name(name))].append(place)

    @classmethod
    def from_files(cls, folder: Path = DATA) -> Gazetteer:
        return cls(_read_laposte(folder) + _read_geonames(folder))

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_postcode.values())

    def geocode_address(
        self, *, country: str, postcode: str | None, city: str | None, street: str | None = None
    ) -> GeoPoint | None:
        """The locality's centre: the commune of that postcode and name, else either alone."""
        wanted = normalise_name(city) if city else None
        if postcode:
            places = self._by_postcode.get((country, normalise_postcode(country, postcode)), [])
            if places:
                named = [
                    p for p in places if wanted and _same_place(normalise_name(p.name), wanted)
                ]
                best = named[0] if named else places[0]
                return GeoPoint(
                    best.lat, best.lng, f"{postcode} {best.name}", "gazetteer", "postcode"
                )
        if wanted:
            return self.locality(country, wanted)
        return None

    def locality(self, country: str, name: str) -> GeoPoint | None:
        places = self._by_name.get((country, normalise_name(name)), [])
        if not places:
            return None
        # One name may be several communes (there are many Saint-Denis): prefer the place with the
        # most postcode rows nearby, which is the larger town.
        cluster = max(places, key=lambda p: sum(_km(p, q) < 30 for q in places))
        near = [q for q in places if _km(cluster, q) < 30]
        lat = sum(q.lat for q in near) / len(near)
        lng = sum(q.lng for q in near) / len(near)
        return GeoPoint(lat, lng, cluster.name.title(), "gazetteer", "locality")

    def place(
        self, text: str, countries: tuple[str, ...] = ("FR", "BE", "LU", "MC", "CH", "DE", "GB")
    ) -> GeoPoint | None:
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
                    return msgspec.structs.replace(point, label=text.strip())
        return None

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
    return float(geodesic((a.lat, a.lng), (b.lat, b.lng)).km)


def _read_laposte(folder: Path) -> list[tuple[str, str, str, float, float]]:
    rows = []
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
    return rows


def _read_geonames(folder: Path) -> list[tuple[str, str, str, float, float]]:
    rows = []
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
