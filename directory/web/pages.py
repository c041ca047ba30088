"""The pages: search (home and results), a workshop's profile, robots.txt and the sitemap.

Server-rendered HTML that works without JavaScript: the search is a GET form, so every search is
a URL to share. Results come from the same search as ``GET /v1/search`` (same parameters, same
backends, same order). Every page carries its own Content-Security-Policy: nothing inline,
nothing from another origin.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect
from markupsafe import Markup

from certifications.catalogue import Catalogue
from directory.db import transaction, utcnow
from directory.errors import InvalidInput
from directory.http import AnyRequest, Deps
from directory.models import Site
from directory.profiles import service as profiles
from directory.profiles.jsonld import site_jsonld
from directory.searching.service import parse, run
from directory.trust.service import competences_for
from directory.web import assets
from directory.web.i18n import choose, translations
from search.documents import week_hours

__all__ = ["profile_path", "route_handlers"]

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
RADII = (5, 10, 25, 50, 100, 200)
DOMAINS = {
    "ev-high-voltage": "Electric and hybrid vehicles",
    "adas": "Driver assistance (cameras, radars)",
    "air-conditioning": "Air conditioning",
    "security-rmi": "Security and keys",
    "diagnostics": "Diagnostics",
    "oem": "Carmaker networks",
    "electrical": "Electrical work",
}
ISSUER_KINDS = {
    "employer": "the employer",
    "training-body": "a training body",
    "certification-body": "a certification body",
    "carmaker": "a carmaker",
    "insurer": "an insurer",
    "network": "a repair network",
    "authority": "a public authority",
}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_env = Environment(
    loader=FileSystemLoader(str(assets.FOLDER.parent / "templates")),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")[:60] or "garage"


def profile_path(site_id: str, name: str, city: str) -> str:
    """The profile's readable URL; the id at its end is what finds it."""
    return f"/garages/{slug(city)}/{slug(name)}-{site_id}"


def _render(
    request: AnyRequest, template: str, language: str, status: int = 200, **context: Any
) -> Response[str]:
    tr = translations(language)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    switch = {
        other: request.url.path + "?" + urlencode({**query, "lang": other})
        for other in ("en", "fr")
        if other != language
    }
    html = _env.get_template(template).render(
        _=tr.gettext,
        lang=language,
        switch=switch,
        asset=assets.url,
        path=request.url.path,
        **context,
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": PAGE_CSP, "Content-Language": language},
    )


def _jobs(app_services: Any, language: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The job picker: (domain label, [(job id, label)]) in the file's order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for job in app_services.jobs:
        groups.setdefault(job.domain, []).append((job.id, getattr(job.name, language)))
    tr = translations(language)
    return [(tr.gettext(DOMAINS.get(d, d)), items) for d, items in groups.items()]


def _scheme_name(catalogue: Catalogue, scheme_id: str, language: str) -> str:
    scheme = catalogue.get(scheme_id)
    return getattr(scheme.name, language) if scheme else scheme_id


@get("/", include_in_schema=False)
async def home(request: AnyRequest, app_services: Deps) -> Response[str]:
    language = choose(request.query_params.get("lang"), request.headers.get("accept-language"))
    params = request.query_params
    form = {
        "place": (params.get("place") or "").strip(),
        "job": params.get("job") or "",
        "radius_km": params.get("radius_km") or "25",
        "open_now": params.get("open_now") == "true",
        "competence": params.get("competence") or "",  # from a competence's page
    }
    context: dict[str, Any] = {
        "form": form,
        "jobs": _jobs(app_services, language),
        "radii": RADII,
        "results": None,
        "errors": [],
    }
    if not form["place"]:
        return _render(request, "home.html", language, **context)
    query: dict[str, Any] = {"place": form["place"], "radius_km": form["radius_km"]}
    if form["job"]:
        query["job"] = [form["job"]]
    if form["competence"]:
        query["competence"] = [form["competence"]]
    if form["open_now"]:
        query["open_now"] = True
    if params.get("cursor"):
        query["cursor"] = params.get("cursor")
    try:
        searched = parse(query, app_services.catalogue, app_services.jobs)
        answer, _backend = await run(app_services, searched)
    except InvalidInput as err:
        context["errors"] = [e.detail for e in err.errors] or [err.detail]
        return _render(request, "home.html", language, status=400, **context)
    items = [
        {
            "item": item,
            "href": profile_path(item.id, item.name, item.address.city),
            "km": item.distance_m / 1000,
            "competences": [
                (c.scheme, _scheme_name(app_services.catalogue, c.scheme, language), c.status)
                for c in item.competences
            ],
        }
        for item in answer.items
    ]
    wider = None
    if not items and not params.get("cursor"):
        wider = await _wider(app_services, query)
    next_url = None
    if answer.next_cursor:
        next_url = "/?" + urlencode(
            {**{k: v for k, v in params.items() if k != "cursor"}, "cursor": answer.next_cursor}
        )
    context |= {
        "results": items,
        "origin": answer.origin,
        "wider": wider,
        "next_url": next_url,
        "wider_url": None
        if wider is None
        else "/?" + urlencode({**dict(params.items()), "radius_km": wider}),
    }
    return _render(request, "home.html", language, **context)


async def _wider(app_services: Any, query: dict[str, Any]) -> int | None:
    """The smallest larger radius with a match, for an empty answer."""
    current = float(query["radius_km"])
    for radius in RADII:
        if radius <= current:
            continue
        answer, _ = await run(
            app_services,
            parse(
                {**query, "radius_km": radius, "limit": 1},
                app_services.catalogue,
                app_services.jobs,
            ),
        )
        if answer.items:
            return radius
    return None


@get("/garages/{city:str}/{rest:str}", include_in_schema=False, sync_to_thread=True)
def profile(
    request: AnyRequest, app_services: Deps, city: FromPath[str], rest: FromPath[str]
) -> Response[Any]:
    language = choose(request.query_params.get("lang"), request.headers.get("accept-language"))
    site_id = rest[rest.rfind("st_") :] if "st_" in rest else ""
    if not re.fullmatch(r"st_[a-z0-9]{1,32}", site_id):
        raise NotFoundException("no such workshop")
    with transaction(app_services.sessions) as session:
        site = session.get(Site, site_id)
        if site is None or site.status == "closed":
            raise NotFoundException("no such workshop")
        out = profiles.site_out(
            site, competences_for(session, app_services.catalogue, [site.id])[site.id]
        )
    canonical = profile_path(out.id, out.name, out.address.city)
    if request.url.path != canonical:  # the name or town changed: the old URL still leads here
        query = request.url.query
        return Redirect(canonical + (f"?{query}" if query else ""), status_code=301)
    local = utcnow().astimezone(ZoneInfo(out.timezone))
    week = _week(out.opening_hours)
    return _render(
        request,
        "profile.html",
        language,
        site=out,
        week=week,
        today=local.weekday(),
        competences=[
            (_scheme_name(app_services.catalogue, c.scheme, language), c) for c in out.competences
        ],
        jsonld=_script_json(site_jsonld(out)),
        canonical=str(request.base_url).rstrip("/") + canonical,
    )


def _script_json(value: Any) -> Markup:
    """JSON for a <script> data block: msgspec writes the dates; <, > and & are escaped so no
    text in it can close the element."""
    text = msgspec.json.encode(value).decode()
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 - escaped above


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


@get("/competences/{scheme_id:str}", include_in_schema=False)
async def competence(
    request: AnyRequest, app_services: Deps, scheme_id: FromPath[str]
) -> Response[str]:
    """What a scheme means for a driver: who issues it, how long it lasts, which lower levels
    it brings, and a search for the workshops that hold it."""
    language = choose(request.query_params.get("lang"), request.headers.get("accept-language"))
    catalogue = app_services.catalogue
    scheme = catalogue.get(scheme_id)
    if scheme is None:
        raise NotFoundException("no such competence")
    implied = sorted(catalogue.implied_by(scheme.id) - {scheme.id})
    jobs = [getattr(j.name, language) for j in app_services.jobs if scheme.id in j.any_of]
    return _render(
        request,
        "competence.html",
        language,
        scheme=scheme,
        name=getattr(scheme.name, language),
        domain=translations(language).gettext(DOMAINS.get(scheme.domain, scheme.domain)),
        implied=[(s, _scheme_name(catalogue, s, language)) for s in implied],
        jobs=jobs,
        issuers=[translations(language).gettext(ISSUER_KINDS[k]) for k in scheme.issuer_kinds],
        years=None if scheme.default_validity_days is None else scheme.default_validity_days / 365,
    )


@get("/robots.txt", include_in_schema=False, media_type="text/plain")
async def robots(request: AnyRequest) -> str:
    base = str(request.base_url).rstrip("/")
    return f"User-agent: *\nDisallow: /v1/\nSitemap: {base}/sitemap.xml\n"


@get("/sitemap.xml", include_in_schema=False, sync_to_thread=True, media_type="application/xml")
def sitemap(request: AnyRequest, app_services: Deps) -> str:
    """Every active profile and competence page (the protocol's limit is 50,000 URLs a file;
    past it, an index of several files is still to be written)."""
    base = str(request.base_url).rstrip("/")
    with transaction(app_services.sessions) as session:
        rows = session.query(Site.id, Site.name, Site.city).filter(Site.status == "active")
        urls = [base + profile_path(i, n, c) for i, n, c in rows.order_by(Site.id).limit(50_000)]
    urls += [f"{base}/competences/{s}" for s in sorted(app_services.catalogue.schemes)]
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls[:50_000])
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>'
    )


route_handlers: list[Any] = [home, profile, competence, robots, sitemap, assets.static]
