"""A workshop's profile page (``/garages/{town}/{name}-{id}``): what a driver needs to choose
and reach it, and for each verified competence the links anyone can use to check it again (the
attestation's public JSON, token included, and its issuer's keys)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from babel import Locale, UnknownLocaleError
from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from certifications.catalogue import Catalogue
from certifications.competences import Effective, effective_competences
from directory.db import transaction, utcnow
from directory.http import AnyRequest, Deps
from directory.models import Attestation, Issuer, Membership, Network, Site, Technician
from directory.profiles import service as profiles
from directory.profiles.jsonld import site_jsonld
from directory.trust.service import competence_out, holdings_for
from directory.web.home import opening_text
from directory.web.i18n import translations
from directory.web.render import (
    DAYS,
    POWERTRAINS,
    VEHICLES,
    language_of,
    profile_path,
    render,
    scheme_name,
)
from search.documents import is_open, next_change_at, week_hours

__all__ = ["profile"]


class Shown(msgspec.Struct, kw_only=True):
    """One competence as the page shows it."""

    scheme: str
    name: str
    status: str
    valid_until: datetime | None
    issuer: str | None  # the issuer's name
    via: str | None  # the scheme's name it is implied by
    check: str | None  # the attestation's public JSON
    keys: str | None  # its issuer's published keys


def _competences(
    session: Session, catalogue: Catalogue, held: list[Effective], language: str
) -> list[Shown]:
    wanted = {e.issuer for e in held if e.issuer}
    issuers = {
        i: n
        for i, n in session.execute(select(Issuer.id, Issuer.name).where(Issuer.id.in_(wanted)))
    }
    return [
        Shown(
            scheme=e.scheme,
            name=scheme_name(catalogue, e.scheme, language),
            status=e.status,
            valid_until=e.valid_until,
            issuer=issuers.get(e.issuer) if e.issuer else None,
            via=scheme_name(catalogue, e.via, language) if e.via != e.scheme else None,
            check=f"/v1/attestations/{e.source}" if e.status == "verified" else None,
            keys=f"/v1/issuers/{e.issuer}/jwks.json" if e.status == "verified" else None,
        )
        for e in held
    ]


def _technicians(
    session: Session, catalogue: Catalogue, site_id: str, language: str
) -> list[tuple[str, int]]:
    """Each personal habilitation held by the site's technicians, and by how many. Names are
    not shown: a technician's record has no consent to publish it (see docs/decisions.md)."""
    now = utcnow()
    rows = session.execute(
        select(Attestation.subject_id, Attestation.scheme)
        .join(Technician, Technician.id == Attestation.subject_id)
        .join(Issuer, Issuer.id == Attestation.issuer_id)
        .where(
            Technician.site_id == site_id,
            Attestation.holder == "person",
            Attestation.revoked_at.is_(None),
            Attestation.valid_from <= now,
            Attestation.valid_until > now,
            Issuer.status == "trusted",
        )
    ).all()
    counts = Counter(scheme for _, scheme in set(rows))
    return sorted((scheme_name(catalogue, s, language), n) for s, n in counts.items())


def _networks(session: Session, site_id: str) -> list[str]:
    return list(
        session.scalars(
            select(Network.name)
            .join(Membership, Membership.network_id == Network.id)
            .where(Membership.site_id == site_id, Network.visibility == "public")
            .order_by(Network.name)
        )
    )


def _language_name(code: str, language: str) -> str:
    try:
        return Locale.parse(code).get_display_name(language) or code
    except (ValueError, UnknownLocaleError):
        return code


def _week(expression: str | None) -> list[tuple[str, list[str]]]:
    """Each day's opening spans as text ("08:00–12:00"), Monday first."""
    hours = week_hours(expression)
    days = []
    for day, name in enumerate(DAYS):
        spans = []
        for i in range(4):
            start, end = hours.get(f"d{day}s{i}"), hours.get(f"d{day}e{i}")
            if start is None or end is None:
                break
            spans.append(f"{start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}")
        days.append((name, spans))
    return days


def _script_json(value: Any) -> Markup:
    """JSON for a <script> data block: msgspec writes the dates; <, > and & are escaped so no
    text in it can close the element."""
    text = msgspec.json.encode(value).decode()
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 - escaped above


@get("/garages/{city:str}/{rest:str}", include_in_schema=False, sync_to_thread=True)
def profile(
    request: AnyRequest, app_services: Deps, city: FromPath[str], rest: FromPath[str]
) -> Response[Any]:
    language = language_of(request)
    site_id = rest[rest.rfind("st_") :] if "st_" in rest else ""
    if not re.fullmatch(r"st_[a-z0-9]{1,32}", site_id):
        raise NotFoundException("no such workshop")
    catalogue = app_services.catalogue
    with transaction(app_services.sessions) as session:
        site = session.get(Site, site_id)
        if site is None or site.status == "closed":
            raise NotFoundException("no such workshop")
        # One reading of the site's competences for the page and its structured data.
        held = effective_competences(
            holdings_for(session, [site.id]).get(site.id, []), catalogue, utcnow()
        )
        out = profiles.site_out(site, [competence_out(e, catalogue) for e in held])
        competences = _competences(session, catalogue, held, language)
        technicians = _technicians(session, catalogue, site.id, language)
        networks = _networks(session, site.id)
    canonical = profile_path(out.id, out.name, out.address.city)
    if request.url.path != canonical:  # the name or town changed: the old URL still leads here
        query = request.url.query
        return Redirect(canonical + (f"?{query}" if query else ""), status_code=301)
    now = utcnow()
    local = now.astimezone(ZoneInfo(out.timezone))
    hours = week_hours(out.opening_hours)
    day, minute = local.weekday(), local.hour * 60 + local.minute
    open_now = is_open(hours, day, minute)
    change = next_change_at(hours, out.timezone, now)
    tr = translations(language)
    return render(
        request,
        app_services.settings,
        "profile.html",
        language,
        site=out,
        week=_week(out.opening_hours),
        today=day,
        open_now=open_now,
        opening=opening_text(open_now, change, now, language) if out.opening_hours else None,
        competences=competences,
        technicians=technicians,
        networks=networks,
        vehicles=[tr.gettext(VEHICLES.get(v, v)) for v in out.vehicles],
        powertrains=[tr.gettext(POWERTRAINS.get(p, p)) for p in out.powertrains],
        languages=[_language_name(code, language) for code in out.languages],
        jsonld=_script_json(site_jsonld(out)),
        canonical=str(request.base_url).rstrip("/") + canonical,
    )
