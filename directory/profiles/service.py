"""Organisations and sites: the rules for creating, changing, closing and listing them."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from directory.db import check_if_match, flush_versioned, get_or_404
from directory.errors import Conflict, InvalidInput
from directory.models import Organisation, OrganisationIdentifier, Site
from directory.profiles.overseas import phone_regions
from directory.profiles.schemas import (
    CompetenceOut,
    Identifier,
    OrganisationCreate,
    OrganisationOut,
    OrganisationPatch,
    SiteCreate,
    SiteOut,
    SitePatch,
)
from directory.profiles.validation import (
    FieldError,
    check_country,
    check_identifier,
    check_opening_hours,
    check_postcode,
    check_timezone,
    check_url,
    default_timezone,
    normalise_phone,
)
from directory.vocabulary import instant_problem
from search.geocode import Geocoder

__all__ = [
    "close_organisation",
    "close_site",
    "create_organisation",
    "create_site",
    "get_organisation",
    "get_site",
    "list_organisations",
    "list_sites",
    "organisation_out",
    "patch_organisation",
    "patch_site",
    "site_out",
    "validate_site",
]

MAX_PAGE = 100


# --- organisations --------------------------------------------------------------------------------


def _check_identifiers(
    session: Session, identifiers: list[Identifier], organisation_id: str | None
) -> None:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, ident in enumerate(identifiers):
        errors += check_identifier(ident.scheme, ident.value, f"/identifiers/{i}/value")
        if ident.scheme in seen:
            errors.append(FieldError(f"/identifiers/{i}/scheme", "one value per scheme"))
        seen.add(ident.scheme)
    if errors:
        raise InvalidInput("invalid identifiers", errors=errors)
    if not identifiers:
        return
    taken = session.execute(
        select(OrganisationIdentifier.scheme, OrganisationIdentifier.value).where(
            or_(
                *(
                    and_(
                        OrganisationIdentifier.scheme == i.scheme,
                        OrganisationIdentifier.value == i.value,
                    )
                    for i in identifiers
                )
            ),
            OrganisationIdentifier.organisation_id != (organisation_id or ""),
        )
    ).all()
    if taken:
        pairs = {(s, v) for s, v in taken}
        raise Conflict(
            "an identifier is already registered to another organisation",
            errors=[
                FieldError(f"/identifiers/{i}/value", f"{x.scheme} {x.value} is already registered")
                for i, x in enumerate(identifiers)
                if (x.scheme, x.value) in pairs
            ],
        )


def create_organisation(
    session: Session,
    data: OrganisationCreate,
    *,
    source: str | None = None,
    external_id: str | None = None,
) -> Organisation:
    errors = check_url(data.website, "/website")
    if errors:
        raise InvalidInput("invalid organisation", errors=errors)
    _check_identifiers(session, data.identifiers, None)
    org = Organisation(
        legal_name=data.legal_name,
        trade_name=data.trade_name,
        kind=data.kind,
        website=data.website,
        source=source,
        external_id=external_id,
        identifiers=[
            OrganisationIdentifier(scheme=i.scheme, value=i.value) for i in data.identifiers
        ],
    )
    session.add(org)
    _flush_unique(session)
    return org


def _flush_unique(session: Session) -> None:
    try:
        flush_versioned(session)
    except IntegrityError as err:
        # A concurrent writer took the same identifier between our check and our insert.
        raise Conflict("a unique value is already registered") from err


def get_organisation(session: Session, organisation_id: str) -> Organisation:
    return get_or_404(session, Organisation, organisation_id, "organisation")


def patch_organisation(
    session: Session, organisation_id: str, patch: OrganisationPatch, if_match: str | None
) -> Organisation:
    org = get_organisation(session, organisation_id)
    check_if_match(if_match, org.version)
    changes = msgspec.structs.asdict(patch)
    if isinstance(patch.website, str):
        errors = check_url(patch.website, "/website")
        if errors:
            raise InvalidInput("invalid organisation", errors=errors)
    if not isinstance(patch.identifiers, msgspec.UnsetType):
        _check_identifiers(session, patch.identifiers, org.id)
        current = {(i.scheme, i.value): i for i in org.identifiers}
        wanted = {(i.scheme, i.value) for i in patch.identifiers}
        org.identifiers = [
            current.get(k) or OrganisationIdentifier(scheme=k[0], value=k[1])
            for k in sorted(wanted)
        ]
    for field in ("legal_name", "kind", "trade_name", "website"):
        value = changes[field]
        if value is not msgspec.UNSET:
            setattr(org, field, value)
    _flush_unique(session)
    return org


def close_organisation(
    session: Session, organisation_id: str, if_match: str | None
) -> Organisation:
    """Closing an organisation closes its sites: each leaves search with its own tombstone."""
    org = get_organisation(session, organisation_id)
    check_if_match(if_match, org.version, required=False)
    org.status = "closed"
    for site in session.scalars(
        select(Site).where(Site.organisation_id == org.id, Site.status != "closed")
    ):
        site.status = "closed"
    flush_versioned(session)
    return org


def organisation_out(org: Organisation) -> OrganisationOut:
    return msgspec.convert(org, OrganisationOut, from_attributes=True)


# --- sites ----------------------------------------------------------------------------------------


def validate_site(
    data: SiteCreate, geocoder: Geocoder, *, previous: Site | None = None
) -> dict[str, Any]:
    """Every semantic check of a site at once; returns the normalised column values."""
    addr = data.address
    errors = check_country(addr.country, "/address/country")
    errors += check_postcode(addr.postcode, addr.country, "/address/postcode")
    errors += check_opening_hours(data.opening_hours, "/opening_hours")
    errors += check_url(data.website, "/website") + check_url(data.booking_url, "/booking_url")
    phone = None
    given = (data.location.lat, data.location.lng) if data.location is not None else None
    if data.phone is not None:
        regions = phone_regions(addr.country, addr.postcode, given)
        phone, phone_errors = normalise_phone(data.phone, regions, "/phone")
        errors += phone_errors
    timezone = data.timezone or default_timezone(addr.country, addr.postcode, given)
    if timezone is None:
        errors.append(FieldError("/timezone", f"{addr.country} has several time zones: give one"))
    else:
        errors += check_timezone(timezone, "/timezone")
    if "all" in data.brands and len(data.brands) > 1:
        errors.append(FieldError("/brands", '"all" stands alone'))
    location_source = "provided"
    if data.location is not None:
        lat, lng = data.location.lat, data.location.lng
    elif (
        previous is not None
        and previous.location_source == "provided"
        and _same_address(previous, data)
    ):
        lat, lng = previous.lat, previous.lng
    else:
        point = (
            None
            if errors
            else geocoder.geocode_address(
                country=addr.country, postcode=addr.postcode, city=addr.city, street=addr.street
            )
        )
        if point is None and not errors:
            errors.append(
                FieldError(
                    "/location",
                    "no location given and the address could not "
                    "be geocoded: send location.lat and location.lng",
                )
            )
        lat, lng = (point.lat, point.lng) if point else (0.0, 0.0)
        location_source = point.source if point else "provided"
    if errors:
        raise InvalidInput("invalid site", errors=errors)
    return {
        "name": data.name,
        "street": addr.street,
        "postcode": addr.postcode,
        "city": addr.city,
        "country": addr.country,
        "lat": lat,
        "lng": lng,
        "location_source": location_source,
        "timezone": timezone,
        "opening_hours": data.opening_hours,
        "phone": phone,
        "email": data.email,
        "website": data.website,
        "booking_url": data.booking_url,
        "brands": sorted(set(data.brands)),
        "vehicles": sorted(set(data.vehicles)),
        "powertrains": sorted(set(data.powertrains)),
        "services": sorted(set(data.services)),
        "languages": sorted(set(data.languages)),
        "status": data.status,
    }


def _same_address(site: Site, data: SiteCreate) -> bool:
    a = data.address
    return (site.street, site.postcode, site.city, site.country) == (
        a.street,
        a.postcode,
        a.city,
        a.country,
    )


def create_site(
    session: Session,
    geocoder: Geocoder,
    organisation_id: str,
    data: SiteCreate,
    *,
    source: str | None = None,
    external_id: str | None = None,
) -> Site:
    org = get_organisation(session, organisation_id)
    if org.status == "closed":
        raise Conflict(f"organisation {organisation_id!r} is closed")
    site = Site(
        organisation=org, source=source, external_id=external_id, **validate_site(data, geocoder)
    )
    session.add(site)
    _flush_unique(session)
    return site


def get_site(session: Session, site_id: str) -> Site:
    return get_or_404(session, Site, site_id, "site")


def _as_input(site: Site) -> dict[str, Any]:
    """The site as a SiteCreate-shaped dict, so a PATCH is validated as a whole new state."""
    return {
        "name": site.name,
        "address": {
            "street": site.street,
            "postcode": site.postcode,
            "city": site.city,
            "country": site.country,
        },
        "timezone": site.timezone,
        "opening_hours": site.opening_hours,
        "phone": site.phone,
        "email": site.email,
        "website": site.website,
        "booking_url": site.booking_url,
        "brands": site.brands,
        "vehicles": site.vehicles,
        "powertrains": site.powertrains,
        "services": site.services,
        "languages": site.languages,
        "status": site.status,
    }


def patch_site(
    session: Session, geocoder: Geocoder, site_id: str, patch: SitePatch, if_match: str | None
) -> Site:
    site = get_site(session, site_id)
    check_if_match(if_match, site.version)
    merged = _as_input(site)
    for field, value in msgspec.structs.asdict(patch).items():
        if value is not msgspec.UNSET:
            merged[field] = msgspec.to_builtins(value)
    data = msgspec.convert(merged, SiteCreate)
    apply_site(site, validate_site(data, geocoder, previous=site))
    flush_versioned(session)
    return site


def apply_site(site: Site, values: dict[str, Any]) -> None:
    """Set only what changed, so an identical write is not a new version."""
    for field, value in values.items():
        if getattr(site, field) != value:
            setattr(site, field, value)


def close_site(session: Session, site_id: str, if_match: str | None) -> Site:
    site = get_site(session, site_id)
    check_if_match(if_match, site.version, required=False)
    if site.status != "closed":
        site.status = "closed"
        flush_versioned(session)
    return site


def site_out(site: Site, competences: list[CompetenceOut]) -> SiteOut:
    """The public profile: the record as stored (its address and location read as the nested
    objects the API shows), with its effective competences now."""
    out = msgspec.convert(site, SiteOut, from_attributes=True)
    out.competences = competences
    return out


# --- listing --------------------------------------------------------------------------------------


def encode_cursor(updated_at: datetime, row_id: str) -> str:
    raw = msgspec.json.encode([updated_at, row_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, row_id = msgspec.json.decode(raw, type=tuple[datetime, str])
    except (binascii.Error, ValueError, msgspec.DecodeError) as err:
        raise InvalidInput(
            "invalid cursor",
            errors=[FieldError("/query/cursor", "not a cursor returned by this API")],
        ) from err
    if updated_at.tzinfo is None:
        raise InvalidInput(
            "invalid cursor",
            errors=[FieldError("/query/cursor", "not a cursor returned by this API")],
        )
    return updated_at, row_id


def _page(
    session: Session,
    model: Any,
    cursor: str | None,
    limit: int,
    updated_after: datetime | None,
    *options: Any,
) -> tuple[list[Any], str | None]:
    """Keyset pagination on (updated_at, id): stable under inserts, resumable for mirrors."""
    if updated_after is not None and (problem := instant_problem(updated_after)):
        raise InvalidInput("invalid instant", errors=[FieldError("/query/updated_after", problem)])
    stmt = select(model).options(*options).order_by(model.updated_at, model.id).limit(limit + 1)
    if updated_after is not None:
        stmt = stmt.where(model.updated_at > updated_after)
    if cursor:
        at, last = decode_cursor(cursor)
        stmt = stmt.where(or_(model.updated_at > at, and_(model.updated_at == at, model.id > last)))
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].updated_at, rows[-1].id) if more else None
    return rows, next_cursor


def list_sites(
    session: Session, cursor: str | None, limit: int, updated_after: datetime | None
) -> tuple[list[Site], str | None]:
    return _page(session, Site, cursor, limit, updated_after)


def list_organisations(
    session: Session, cursor: str | None, limit: int, updated_after: datetime | None
) -> tuple[list[Organisation], str | None]:
    return _page(
        session,
        Organisation,
        cursor,
        limit,
        updated_after,
        selectinload(Organisation.identifiers),
    )
