"""How a page is answered: its template, its language, its own Content-Security-Policy, and
the labels the pages share (domains, issuer kinds, days, vehicles, powertrains)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import urlencode, urlsplit

import phonenumbers
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import Response

from certifications.catalogue import Catalogue
from directory.http import AnyRequest
from directory.settings import Settings
from directory.web import assets
from directory.web.i18n import choose, translations

__all__ = [
    "DAYS",
    "brand_label",
    "phone_text",
    "DOMAINS",
    "ISSUER_KINDS",
    "POWERTRAINS",
    "VEHICLES",
    "language_of",
    "page_csp",
    "profile_path",
    "render",
    "scheme_name",
    "slug",
]

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
POWERTRAINS = {
    "ice": "Petrol or diesel",
    "hev": "Hybrid",
    "phev": "Plug-in hybrid",
    "bev": "Electric",
    "fcev": "Hydrogen fuel cell",
    "lpg": "LPG",
    "cng": "Natural gas (CNG)",
}
VEHICLES = {
    "car": "Cars",
    "van": "Vans",
    "truck": "Trucks",
    "motorcycle": "Motorcycles",
    "bus": "Buses",
}

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


def brand_label(value: str) -> str:
    """A brand slug as people write it: "mercedes-benz" → "Mercedes-Benz"."""
    return "-".join(part.capitalize() for part in value.split("-"))


def phone_text(e164: str) -> str:
    """A stored number (E.164) as its country writes it ("04 78 12 34 56" in France); the
    tel: link keeps the E.164 form, which dials from anywhere."""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


_env.filters["brand"] = brand_label


def page_csp(settings: Settings) -> str:
    """Nothing inline, nothing from another origin but the map tiles' host (``{s}`` in a
    tile URL is any subdomain); fetches (place suggestions) to this origin only."""
    parts = urlsplit(settings.tile_url.replace("{s}", "*"))
    tiles = f"{parts.scheme}://{parts.netloc}"
    return (
        f"default-src 'none'; style-src 'self'; img-src 'self' {tiles}; script-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def language_of(request: AnyRequest) -> str:
    return choose(request.query_params.get("lang"), request.headers.get("accept-language"))


def scheme_name(catalogue: Catalogue, scheme_id: str, language: str) -> str:
    scheme = catalogue.get(scheme_id)
    return getattr(scheme.name, language) if scheme else scheme_id


def render(
    request: AnyRequest,
    settings: Settings,
    template: str,
    language: str,
    status: int = 200,
    **context: Any,
) -> Response[str]:
    tr = translations(language)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    here = request.url.path + ("?" + urlencode(query) if query else "")
    switch = {
        other: request.url.path + "?" + urlencode({**query, "lang": other})
        for other in ("en", "fr")
        if other != language
    }
    base = str(request.base_url).rstrip("/")
    alternates = {
        other: base + request.url.path + "?" + urlencode({**query, "lang": other})
        for other in ("en", "fr")
    }
    html = _env.get_template(template).render(
        _=tr.gettext,
        ngettext=tr.ngettext,
        lang=language,
        switch=switch,
        alternates=alternates,
        here=here,
        asset=assets.url,
        brand_label=brand_label,
        phone_text=phone_text,
        path=request.url.path,
        tiles={"url": settings.tile_url, "attribution": settings.tile_attribution},
        **context,
    )
    return Response(
        html,
        status_code=status,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": page_csp(settings),
            "Content-Language": language,
            # The tile servers' policies (OpenStreetMap's among them) ask for a Referer: the
            # origin alone is sent, never the page's path or its search.
            "Referrer-Policy": "strict-origin",
        },
    )
