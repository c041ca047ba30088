"""The words of the directory: controlled vocabularies, constraints named once, and the base of
every request body. Shared by the API, the importer and search facets."""

import re
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from directory.errors import explain_pattern

# Characters refused in text (see text_problem below for why), written once as escapes: the
# runtime check and the patterns the OpenAPI document shows are both made from these.
_FORBIDDEN_CLASS = (
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
    r"\u2066-\u2069\ufeff\ufff9-\ufffb"
)
_BREAKS_CLASS = r"\t\n\r\u2028\u2029"

OrganisationKind = Literal["independent", "dealer", "bodyshop", "fast-fit", "specialist"]
SiteStatus = Literal["active", "temporarily_closed", "closed"]
Vehicle = Literal["car", "van", "truck", "motorcycle", "bus"]
Powertrain = Literal["ice", "hev", "phev", "bev", "fcev", "lpg", "cng"]
IdentifierScheme = Literal["siren", "siret", "vat", "company-number", "kbo", "uid", "hrb"]

# Drawn from OpenStreetMap's service:vehicle:* keys (wiki: Key:service:vehicle), in their spelling.
Service = Literal[
    "air_conditioning",
    "alignment",
    "batteries",
    "body_repair",
    "brakes",
    "car_parts",
    "car_repair",
    "clutch",
    "diagnostics",
    "electrical",
    "engine",
    "exhaust",
    "glass",
    "inspection",
    "oil_change",
    "painting",
    "suspension",
    "transmission",
    "tyres",
    "used_car_sales",
    "new_car_sales",
    "wheel_repair",
    "ev_charging",
    "ev_battery",
    "adas_calibration",
    "towing",
]

# What a group of sites is: an insurer's or fleet's approved repairers, a carmaker's network,
# a chain or buying group, a cooperative of independents.
NetworkKind = Literal["insurer", "fleet", "oem", "chain", "cooperative", "other"]
NetworkVisibility = Literal["private", "public"]


# Free text (notes, messages) may also hold tabs and line breaks.
FREE_TEXT = f"^[^{_FORBIDDEN_CLASS}]*$"

# Constraints, named once. Text carries PRINTABLE: the OpenAPI document then says which
# characters are accepted (those text_problem lets through), so a client generating inputs from
# it does not send what will be refused.
PRINTABLE = f"^[^{_FORBIDDEN_CLASS}{_BREAKS_CLASS}]*$"
Latitude = Annotated[float, Meta(ge=-90, le=90, description="WGS84 latitude in degrees")]
Longitude = Annotated[float, Meta(ge=-180, le=180, description="WGS84 longitude in degrees")]
Name = Annotated[str, Meta(pattern=PRINTABLE, min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(pattern=PRINTABLE, min_length=1, max_length=100)]
Street = Annotated[str, Meta(pattern=PRINTABLE, min_length=1, max_length=200)]
Postcode = Annotated[str, Meta(pattern=PRINTABLE, min_length=1, max_length=16)]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
TimeZone = Annotated[
    str, Meta(pattern=PRINTABLE, min_length=1, max_length=64, description="IANA time zone")
]
OpeningHours = Annotated[
    str,
    Meta(
        pattern=PRINTABLE,
        min_length=1,
        max_length=1000,
        description="OpenStreetMap opening_hours syntax",
    ),
]
Phone = Annotated[str, Meta(pattern=PRINTABLE, min_length=3, max_length=32)]
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")]
# What check_url accepts: http(s), a host, no white space anywhere.
Url = Annotated[str, Meta(min_length=8, max_length=2048, pattern=r"^https?://[^\s/?#]+\S*$")]
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
SiteId = Annotated[str, Meta(pattern=r"^st_[a-z0-9]{1,32}$", description="a site's id")]
Language = Annotated[str, Meta(pattern=r"^[a-z]{2}$", description="ISO 639-1")]
IdentifierValue = Annotated[str, Meta(pattern=PRINTABLE, min_length=1, max_length=64)]

Brands = Annotated[
    list[Slug],
    Meta(max_length=100, description='Brand slugs ("renault"), or ["all"] for every brand'),
]
Vehicles = Annotated[list[Vehicle], Meta(max_length=5)]
Powertrains = Annotated[list[Powertrain], Meta(max_length=7)]
Services = Annotated[list[Service], Meta(max_length=40)]
Languages = Annotated[list[Language], Meta(max_length=20)]


# Characters no name, address or note in the directory carries, refused in every text input: C0
# and C1 controls (a NUL byte reached PostgreSQL as a 500; ESC sequences and CR LF reach
# terminals and logs verbatim), bidirectional marks, overrides and isolates (they make a
# published name read otherwise than it is stored), the byte-order mark and interlinear
# annotations. Tabs and line breaks are allowed only in the fields a class names free text.
_FORBIDDEN = re.compile(f"[{_FORBIDDEN_CLASS}]")
_BREAKS = re.compile(f"[{_BREAKS_CLASS}]")


def text_problem(value: str, free_text: bool = False) -> str | None:
    """Why this text may not be stored and published, or None."""
    if _FORBIDDEN.search(value):
        return "control and bidirectional-override characters are not allowed"
    if not free_text and _BREAKS.search(value):
        return "tabs and line breaks are not allowed here"
    if value and not value.strip():
        return "must not be only spaces"
    return None


# Instants the directory reads: aware, and between the epoch and the year 3000 ("no end" in the
# search documents). Naive ones reached a UTC column as a 500; ones at the calendar's end
# overflowed when moved to UTC.
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)


def instant_problem(value: datetime) -> str | None:
    """Why this instant is not one we read, or None."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "an RFC 3339 instant needs its offset (Z or ±hh:mm)"
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # pragma: no cover - the comparison converts to UTC
        inside = False
    return None if inside else "must be between 1970-01-01 and 3000-01-01"


def _problem_in(value: object, free_text: bool) -> str | None:
    if isinstance(value, str):
        return text_problem(value, free_text)
    if isinstance(value, list):
        return next((p for v in value if (p := _problem_in(v, free_text))), None)
    if isinstance(value, dict):
        return next(
            (
                p
                for k, v in value.items()
                if (p := _problem_in(k, False) or _problem_in(v, free_text))
            ),
            None,
        )
    return None  # numbers, booleans, UNSET; nested Inputs check themselves


class Input(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Base of every request body: an unknown field is an error, not silently dropped, and no
    text carries control or bidirectional-override characters (``text_problem``)."""

    __free_text__: ClassVar[frozenset[str]] = frozenset()  # fields that may hold line breaks
    __opaque__: ClassVar[frozenset[str]] = frozenset({"password"})  # hashed, never published

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if name in self.__opaque__:
                continue
            problem = _problem_in(getattr(self, name), name in self.__free_text__)
            if problem is not None:
                # The error handler reads the field from this `name`: prefix (errors.py).
                raise ValueError(f"`{name}`: {problem}")


for _pattern in (PRINTABLE, FREE_TEXT):
    explain_pattern(_pattern, "control and bidirectional-override characters are not allowed")
