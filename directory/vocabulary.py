"""The words of the directory: controlled vocabularies, constraints named once, and the base of
every request body. Shared by the API, the importer and search facets."""

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

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


# Constraints, named once.
Latitude = Annotated[float, Meta(ge=-90, le=90, description="WGS84 latitude in degrees")]
Longitude = Annotated[float, Meta(ge=-180, le=180, description="WGS84 longitude in degrees")]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, Meta(min_length=1, max_length=100)]
Street = Annotated[str, Meta(min_length=1, max_length=200)]
Postcode = Annotated[str, Meta(min_length=1, max_length=16)]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")]
TimeZone = Annotated[str, Meta(min_length=1, max_length=64, description="IANA time zone")]
OpeningHours = Annotated[
    str, Meta(min_length=1, max_length=1000, description="OpenStreetMap opening_hours syntax")
]
Phone = Annotated[str, Meta(min_length=3, max_length=32)]
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")]
Url = Annotated[str, Meta(min_length=8, max_length=2048, pattern=r"^https?://")]
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
Language = Annotated[str, Meta(pattern=r"^[a-z]{2}$", description="ISO 639-1")]
IdentifierValue = Annotated[str, Meta(min_length=1, max_length=64)]

Brands = Annotated[
    list[Slug],
    Meta(max_length=100, description='Brand slugs ("renault"), or ["all"] for every brand'),
]
Vehicles = Annotated[list[Vehicle], Meta(max_length=5)]
Powertrains = Annotated[list[Powertrain], Meta(max_length=7)]
Services = Annotated[list[Service], Meta(max_length=40)]
Languages = Annotated[list[Language], Meta(max_length=20)]


class Input(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Base of every request body: an unknown field is an error, not silently dropped."""
