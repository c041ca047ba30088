"""What a repair intent asks and what it is answered."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from certifications.catalogue import Names
from certifications.vin import DecodedVin
from directory.vocabulary import Input, Powertrain, Slug
from search.query import MAX_RADIUS_KM, Origin
from search.results import SearchItem

__all__ = ["IntentAnswer", "IntentBatchIn", "IntentIn", "VehicleIn"]

MAX_CODES = 20
MAX_JOBS = 10
JobId = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=40)]


# The forms are checked by the service itself (certifications/codes.py, vin.py), so a refusal
# names the value and says what was expected; the document declares them as patterns.
# ISO 3779: 17 letters and digits, never I, O or Q (either case; read in upper case).
Vin = Annotated[
    str,
    Meta(max_length=17, extra_json_schema={"pattern": "^[A-HJ-NPR-Za-hj-npr-z0-9]{17}$"}),
]
# SAE J2012, any case, with an optional ISO 14229 failure-type byte (P0AA6, p0aa6, P0AA6-1C).
DtcText = Annotated[
    str,
    Meta(
        max_length=8,
        extra_json_schema={"pattern": "^[PBCUpbcu][0-3][0-9A-Fa-f]{3}(?:-?[0-9A-Fa-f]{2})?$"},
    ),
]


class VehicleIn(Input):
    vin: Vin | None = None
    brand: Slug | None = None
    powertrain: Powertrain | None = None


class IntentIn(Input):
    vehicle: VehicleIn = msgspec.field(default_factory=VehicleIn)
    codes: Annotated[list[DtcText], Meta(max_length=MAX_CODES)] = []
    jobs: Annotated[list[JobId], Meta(max_length=MAX_JOBS)] = []
    lat: Annotated[float, Meta(ge=-90, le=90)] | None = None
    lng: Annotated[float, Meta(ge=-180, le=180)] | None = None
    place: Annotated[str, Meta(min_length=1, max_length=120)] | None = None
    radius_km: Annotated[float, Meta(gt=0, le=MAX_RADIUS_KM)] = 25.0
    open_at: datetime | None = None
    open_now: bool = False
    include_declared: bool = False
    limit: Annotated[int, Meta(ge=1, le=50)] = 10


class IntentBatchIn(msgspec.Struct, forbid_unknown_fields=True):
    # Any JSON value per slot: a bad one gets its own problem, as in the batch search.
    intents: Annotated[list[Any], Meta(min_length=1, max_length=500)]


class VehicleOut(msgspec.Struct, kw_only=True):
    brand: str | None
    brand_from: Literal["vin", "caller"] | None
    powertrain: str | None
    vin: DecodedVin | None


class CodeOut(msgspec.Struct, kw_only=True):
    code: str
    failure_type: str | None
    system: str
    scope: Literal["generic", "manufacturer"]
    rule: str | None  # None: no rule covers it (the fallback)


class NeedOut(msgspec.Struct, kw_only=True):
    kind: Literal["required", "preferred"]
    job: str | None
    name: Names | None  # the job's, for a required need
    competences: list[str]  # any of
    rule: str
    reason: Names
    source: str
    asked_by: list[str]
    fallback: bool


class Met(msgspec.Struct, kw_only=True):
    need: str  # the job (required) or the rule (preferred)
    scheme: str
    status: Literal["verified", "declared"]


class Workshop(msgspec.Struct, kw_only=True):
    site: SearchItem
    meets: list[Met]
    lacks: list[str]  # required jobs it does not hold
    preferred: list[Met]


class IntentAnswer(msgspec.Struct, kw_only=True):
    vehicle: VehicleOut
    codes: list[CodeOut]
    required: list[NeedOut]
    preferred: list[NeedOut]
    origin: Origin
    radius_km: float
    # True when workshops within the radius meet every required need; else `workshops` is
    # empty, `further` holds the nearest that do beyond it and `partial` the nearest within
    # it that meet the most.
    complete: bool
    workshops: list[Workshop]
    further: list[Workshop]
    partial: list[Workshop]
