"""Wire types of organisations and sites: inputs forbid unknown fields, PATCH fields default to
UNSET."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from directory.vocabulary import (
    Brands,
    CountryCode,
    Email,
    IdentifierScheme,
    IdentifierValue,
    Input,
    Languages,
    Latitude,
    Longitude,
    Name,
    OpeningHours,
    OrganisationKind,
    Phone,
    Postcode,
    Powertrains,
    Services,
    ShortText,
    SiteStatus,
    Street,
    TimeZone,
    Url,
    Vehicles,
)


class Identifier(Input):
    scheme: IdentifierScheme
    value: IdentifierValue


class Address(Input):
    city: ShortText
    country: CountryCode
    street: Street | None = None
    postcode: Postcode | None = None


class Location(Input):
    lat: Latitude
    lng: Longitude


class OrganisationCreate(Input):
    legal_name: Name
    kind: OrganisationKind
    trade_name: Name | None = None
    identifiers: Annotated[list[Identifier], Meta(max_length=10)] = []
    website: Url | None = None


class OrganisationPatch(Input):
    legal_name: Name | UnsetType = UNSET
    kind: OrganisationKind | UnsetType = UNSET
    trade_name: Name | None | UnsetType = UNSET
    identifiers: Annotated[list[Identifier], Meta(max_length=10)] | UnsetType = UNSET
    website: Url | None | UnsetType = UNSET


class SiteCreate(Input):
    name: Name
    address: Address
    location: Location | None = None
    timezone: TimeZone | None = None
    opening_hours: OpeningHours | None = None
    phone: Phone | None = None
    email: Email | None = None
    website: Url | None = None
    booking_url: Url | None = None
    brands: Brands = []
    vehicles: Vehicles = []
    powertrains: Powertrains = []
    services: Services = []
    languages: Languages = []
    status: SiteStatus = "active"


class SitePatch(Input):
    name: Name | UnsetType = UNSET
    address: Address | UnsetType = UNSET
    location: Location | UnsetType = UNSET
    timezone: TimeZone | UnsetType = UNSET
    opening_hours: OpeningHours | None | UnsetType = UNSET
    phone: Phone | None | UnsetType = UNSET
    email: Email | None | UnsetType = UNSET
    website: Url | None | UnsetType = UNSET
    booking_url: Url | None | UnsetType = UNSET
    brands: Brands | UnsetType = UNSET
    vehicles: Vehicles | UnsetType = UNSET
    powertrains: Powertrains | UnsetType = UNSET
    services: Services | UnsetType = UNSET
    languages: Languages | UnsetType = UNSET
    status: SiteStatus | UnsetType = UNSET


# --- outputs ---


class OrganisationOut(msgspec.Struct, kw_only=True):
    id: str
    legal_name: str
    trade_name: str | None
    kind: str
    identifiers: list[Identifier]
    website: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    version: int


class AddressOut(msgspec.Struct, kw_only=True):
    street: str | None
    postcode: str | None
    city: str
    country: str


class LocationOut(msgspec.Struct, kw_only=True):
    lat: float
    lng: float
    source: str


class CompetenceOut(msgspec.Struct, kw_only=True):
    scheme: str
    name: str
    status: str
    valid_until: datetime | None
    issuer: str | None
    via: str | None = None  # the scheme actually held, when this one is implied by it


class SiteOut(msgspec.Struct, kw_only=True):
    id: str
    organisation_id: str
    name: str
    kind: str
    address: AddressOut
    location: LocationOut
    timezone: str
    opening_hours: str | None
    phone: str | None
    email: str | None
    website: str | None
    booking_url: str | None
    brands: list[str]
    vehicles: list[str]
    powertrains: list[str]
    services: list[str]
    languages: list[str]
    status: str
    competences: list[CompetenceOut] = []  # noqa: RUF012 - msgspec copies mutable defaults
    created_at: datetime
    updated_at: datetime
    version: int
    url: str


class Page(msgspec.Struct, kw_only=True):
    next_cursor: str | None


class SitePage(Page):
    items: list[SiteOut]


class OrganisationPage(Page):
    items: list[OrganisationOut]
