"""A competence's page (``/competences/{id}``): what the scheme means for a driver, who issues
it, how long it lasts, which lower levels it brings, and a search for the workshops holding it."""

from __future__ import annotations

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from directory.http import AnyRequest, Deps
from directory.web.i18n import translations
from directory.web.render import DOMAINS, ISSUER_KINDS, language_of, render, scheme_name

__all__ = ["competence"]


@get("/competences/{scheme_id:str}", include_in_schema=False)
async def competence(
    request: AnyRequest, app_services: Deps, scheme_id: FromPath[str]
) -> Response[str]:
    language = language_of(request)
    catalogue = app_services.catalogue
    scheme = catalogue.get(scheme_id)
    if scheme is None:
        raise NotFoundException("no such competence")
    tr = translations(language)
    implied = sorted(catalogue.implied_by(scheme.id) - {scheme.id})
    return render(
        request,
        app_services.settings,
        "competence.html",
        language,
        scheme=scheme,
        name=getattr(scheme.name, language),
        domain=tr.gettext(DOMAINS.get(scheme.domain, scheme.domain)),
        implied=[(s, scheme_name(catalogue, s, language)) for s in implied],
        jobs=[getattr(j.name, language) for j in app_services.jobs if scheme.id in j.any_of],
        issuers=[tr.gettext(ISSUER_KINDS[k]) for k in scheme.issuer_kinds],
        years=None if scheme.default_validity_days is None else scheme.default_validity_days / 365,
    )
