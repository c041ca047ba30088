"""Controlled vocabularies shared by the API, the importer and (later) search facets."""

from typing import Literal

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
