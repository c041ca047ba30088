"""The search page (``/``): the form, and the results under it as a list and a map.

The search is a GET form, so every search is a URL to share. Results come from the same search
as ``GET /v1/search`` (same parameters, same backends, same order); the page adds words around
them: when a workshop closes or opens, which competences it holds and how, the brand and
powertrain counts beside their filters (the answer's facets), a wider radius when nothing
matches."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Response, get

from directory.db import utcnow
from directory.errors import InvalidInput
from directory.http import AnyRequest, Deps
from directory.searching.service import parse, run
from directory.web.i18n import translations
from directory.web.render import (
    DAYS,
    DOMAINS,
    POWERTRAINS,
    brand_label,
    language_of,
    profile_path,
    render,
    scheme_name,
    slug,
)
from search.results import SearchItem

__all__ = ["RADII", "home", "opening_text"]

RADII = (5, 10, 25, 50, 100, 200)
_FIELDS = ("place", "lat", "lng", "job", "radius_km", "brand", "powertrain", "competence")


def _jobs(app_services: Any, language: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """The job picker: (domain label, [(job id, label)]) in the file's order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for job in app_services.jobs:
        groups.setdefault(job.domain, []).append((job.id, getattr(job.name, language)))
    tr = translations(language)
    return [(tr.gettext(DOMAINS.get(d, d)), items) for d, items in groups.items()]


def opening_text(
    open_now: bool, change: datetime | None, now: datetime, language: str
) -> str | None:
    """ "Closes at 18:00", "Opens tomorrow at 08:00", "Opens Monday at 09:00", in the site's
    local time (``change`` carries the site's zone)."""
    if change is None:
        return None
    _ = translations(language).gettext
    time = change.strftime("%H:%M")
    days = (change.date() - now.astimezone(change.tzinfo).date()).days
    if open_now:
        if days == 0:
            return _("closes at %(time)s") % {"time": time}
        return _("closes %(day)s at %(time)s") % {"day": _(DAYS[change.weekday()]), "time": time}
    if days == 0:
        return _("opens at %(time)s") % {"time": time}
    if days == 1:
        return _("opens tomorrow at %(time)s") % {"time": time}
    return _("opens %(day)s at %(time)s") % {"day": _(DAYS[change.weekday()]), "time": time}


@get("/", include_in_schema=False)
async def home(request: AnyRequest, app_services: Deps) -> Response[str]:
    language = language_of(request)
    settings = app_services.settings
    params = request.query_params
    form = {name: (params.get(name) or "").strip() for name in _FIELDS}
    form["radius_km"] = form["radius_km"] or "25"
    if form["brand"]:  # typed as people write it ("Mercedes Benz"), searched as a slug
        form["brand"] = slug(form["brand"])
    form["open_now"] = params.get("open_now") == "true"
    context: dict[str, Any] = {
        "form": form,
        "jobs": _jobs(app_services, language),
        "radii": RADII,
        "results": None,
        "errors": [],
        "facets": {},
        "powertrains": POWERTRAINS,
    }
    if not form["place"] and not (form["lat"] and form["lng"]):
        return render(request, settings, "home.html", language, **context)
    query: dict[str, Any] = {
        "radius_km": form["radius_km"],
        "facets": ["brand", "powertrain"],
    }
    if form["place"]:
        query["place"] = form["place"]
    else:  # "use my position"
        query["lat"], query["lng"] = form["lat"], form["lng"]
    for name in ("job", "competence", "brand", "powertrain"):
        if form[name]:
            query[name] = [form[name]]
    if form["open_now"]:
        query["open_now"] = True
    if params.get("cursor"):
        query["cursor"] = params.get("cursor")
    try:
        searched = parse(query, app_services.catalogue, app_services.jobs)
        answer, _backend = await run(app_services, searched)
    except InvalidInput as err:
        context["errors"] = _problems(err, form, language)
        return render(request, settings, "home.html", language, status=400, **context)
    now = utcnow()  # within a moment of the instant the search read the hours at
    items = [_result(item, app_services, language, now) for item in answer.items]
    wider = None
    if not items and not params.get("cursor"):
        wider = await _wider(app_services, query)
    kept = {k: v for k, v in params.items() if k != "cursor"}
    context |= {
        "results": items,
        "origin": answer.origin,
        "total": answer.total_estimate,
        "facets": {
            "brand": [(v, brand_label(v), n) for v, n in answer.facets.get("brand", {}).items()],
            "powertrain": answer.facets.get("powertrain", {}),
        },
        "wider": wider,
        "next_url": "/?" + urlencode({**kept, "cursor": answer.next_cursor})
        if answer.next_cursor
        else None,
        "wider_url": None if wider is None else "/?" + urlencode({**kept, "radius_km": wider}),
    }
    return render(request, settings, "home.html", language, **context)


def _problems(err: InvalidInput, form: dict[str, Any], language: str) -> list[str]:
    """The API's reasons in the page's language: the ones a person can meet through the form
    are worded for them; any other (a hand-edited URL) is named with its field."""
    _ = translations(language).gettext
    out = []
    for problem in err.errors:
        field = problem.pointer.removeprefix("/query/").split("/")[0]
        if field == "place":
            out.append(_("No place called “%(place)s” is known.") % {"place": form["place"]})
        elif field == "cursor":
            out.append(_("This page of results has expired: search again."))
        else:
            out.append(_("The value of “%(field)s” cannot be used.") % {"field": field})
    return out or [_("This search cannot be made.")]


def _result(item: SearchItem, app_services: Any, language: str, now: datetime) -> dict[str, Any]:
    return {
        "item": item,
        "href": profile_path(item.id, item.name, item.address.city),
        "km": item.distance_m / 1000,
        "hours": opening_text(item.open_now, item.next_change, now, language),
        "competences": [
            (c.scheme, scheme_name(app_services.catalogue, c.scheme, language), c.status)
            for c in item.competences
        ],
    }


async def _wider(app_services: Any, query: dict[str, Any]) -> int | None:
    """The smallest larger radius with a match, for an empty answer."""
    current = float(query["radius_km"])
    for radius in RADII:
        if radius <= current:
            continue
        answer, _ = await run(
            app_services,
            parse(
                {**query, "radius_km": radius, "limit": 1, "facets": []},
                app_services.catalogue,
                app_services.jobs,
            ),
        )
        if answer.items:
            return radius
    return None
