"""Wire types of the profile API: inputs forbid unknown fields, PATCH fields default to UNSET."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from directory.vocabulary import (
    IdentifierScheme,
    NetworkKind,
    NetworkVisibility,
    OrganisationKind,
    Powertrain,
    Service,
    SiteStatus,
    Vehicle,
)

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


# --- outputs ------------------------------------------------------------------------------------


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
    competences: list[CompetenceOut]
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


# --- certifications ------------------------------------------------------------------------------

Jwk = Annotated[dict[str, str], Meta(max_length=12)]


class Jwks(Input):
    keys: Annotated[list[Jwk], Meta(min_length=1, max_length=10)]


class IssuerCreate(Input):
    name: Name
    kind: str
    schemes: Annotated[
        list[Annotated[str, Meta(max_length=80)]], Meta(min_length=1, max_length=200)
    ]
    jwks: Jwks


class IssuerOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    status: str
    schemes: list[str]
    jwks_url: str
    created_at: datetime
    updated_at: datetime


class TokenIn(Input):
    token: Annotated[str, Meta(min_length=10, max_length=8192)]


class AttestationOut(msgspec.Struct, kw_only=True):
    jti: str
    issuer: str
    subject: str
    holder: str
    scheme: str
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    evidence: str | None
    status: str
    revoked_at: datetime | None
    token: str
    revocation_token: str | None


class ClaimIn(Input):
    scheme: Annotated[str, Meta(max_length=80)]
    evidence_url: Url | None = None


class ClaimOut(msgspec.Struct, kw_only=True):
    id: str
    site_id: str
    scheme: str
    status: str
    evidence_url: str | None
    created_at: datetime


class TechnicianCreate(Input):
    display_name: ShortText


class TechnicianPatch(Input):
    display_name: ShortText | UnsetType = UNSET
    site_id: Annotated[str, Meta(max_length=40)] | UnsetType = UNSET


class TechnicianOut(msgspec.Struct, kw_only=True):
    id: str
    site_id: str
    display_name: str
    created_at: datetime
    updated_at: datetime
    version: int


# --- accounts ------------------------------------------------------------------------------------

# Long enough for any passphrase the policy accepts, short enough to bound the hashing work.
Password = Annotated[str, Meta(min_length=1, max_length=1024)]
Token = Annotated[str, Meta(min_length=1, max_length=200)]
Role = Annotated[str, Meta(pattern=r"^(owner|editor)$")]
Note = Annotated[str, Meta(max_length=2000)]


class SignupIn(Input):
    email: Annotated[str, Meta(max_length=254)]
    password: Password


class VerifyIn(Input):
    token: Token


class LoginIn(Input):
    email: Annotated[str, Meta(max_length=254)]
    password: Password
    cookie: bool = False  # true: a session cookie plus a CSRF token, for the web pages


class LoginOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    expires_at: datetime
    token: str | None = None  # bearer sessions
    csrf_token: str | None = None  # cookie sessions: send it as X-CSRF-Token on every change


class MembershipOut(msgspec.Struct, kw_only=True):
    organisation_id: str
    role: str


class MeOut(msgspec.Struct, kw_only=True):
    id: str
    email: str
    created_at: datetime
    organisations: list[MembershipOut]


class MemberIn(Input):
    email: Annotated[str, Meta(max_length=254)]
    role: Role = "editor"


class MemberOut(msgspec.Struct, kw_only=True):
    account_id: str
    email: str
    role: str
    since: datetime


class MemberAdded(msgspec.Struct, kw_only=True):
    email: str
    role: str
    status: str  # "granted" (the account exists) or "invited" (granted once it verifies)


class ListingClaimIn(Input):
    message: Note | None = None


class DecisionIn(Input):
    reason: Note | None = None


class ListingClaimOut(msgspec.Struct, kw_only=True):
    id: str
    organisation_id: str
    account_id: str
    status: str
    message: str | None
    created_at: datetime
    decided_at: datetime | None = None
    reason: str | None = None
    email: str | None = None  # shown to administrators only


# --- networks ------------------------------------------------------------------------------------

SiteId = Annotated[str, Meta(pattern=r"^st_[a-z0-9]{1,32}$")]
MAX_MEMBERS = 20_000


class NetworkCreate(Input):
    name: Name
    kind: NetworkKind
    visibility: NetworkVisibility = "private"  # an integration's list is its own by default


class NetworkPatch(Input):
    name: Name | UnsetType = UNSET
    visibility: NetworkVisibility | UnsetType = UNSET


class NetworkOut(msgspec.Struct, kw_only=True):
    id: str
    name: str
    kind: str
    visibility: str
    members: int
    created_at: datetime
    updated_at: datetime
    version: int


class MembersIn(Input):
    sites: Annotated[list[SiteId], Meta(max_length=MAX_MEMBERS)]


class MembersOut(msgspec.Struct, kw_only=True):
    network_id: str
    sites: list[str]
    next_cursor: str | None = None


class MembersReplaced(msgspec.Struct, kw_only=True):
    network_id: str
    members: int
    added: int
    removed: int
