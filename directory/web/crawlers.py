"""What search engines read: robots.txt and the sitemap. The sitemap protocol allows 50,000
URLs a file: past that, ``/sitemap.xml`` is an index of numbered files, each read from the
database as a range of ids from its first one (found in the id index alone)."""

from __future__ import annotations

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from sqlalchemy import func, select

from directory.db import transaction
from directory.http import AnyRequest, Deps
from directory.models import Site
from directory.web.render import profile_path

__all__ = ["PER_FILE", "robots", "sitemap", "sitemap_part"]

PER_FILE = 50_000
_HEAD = '<?xml version="1.0" encoding="UTF-8"?>'
_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def _base(request: AnyRequest) -> str:
    return str(request.base_url).rstrip("/")


@get("/robots.txt", include_in_schema=False, media_type="text/plain")
async def robots(request: AnyRequest) -> str:
    return f"User-agent: *\nDisallow: /v1/\nSitemap: {_base(request)}/sitemap.xml\n"


def _urlset(urls: list[str]) -> str:
    body = "".join(f"<url><loc>{u}</loc></url>" for u in urls)
    return f"{_HEAD}<urlset {_NS}>{body}</urlset>"


@get("/sitemap.xml", include_in_schema=False, sync_to_thread=True, media_type="application/xml")
def sitemap(request: AnyRequest, app_services: Deps) -> str:
    """Every active profile and every competence page: one file while they fit in one, else
    the index of the files ``/sitemaps/{n}.xml`` (the competence pages in the first)."""
    base, schemes = _base(request), sorted(app_services.catalogue.schemes)
    with transaction(app_services.sessions) as session:
        active = session.scalar(select(func.count()).where(Site.status == "active")) or 0
        if active + len(schemes) <= PER_FILE:
            rows = session.execute(
                select(Site.id, Site.name, Site.city)
                .where(Site.status == "active")
                .order_by(Site.id)
            ).all()
            urls = [base + profile_path(i, n, c) for i, n, c in rows]
            return _urlset(urls + [f"{base}/competences/{s}" for s in schemes])
    files = -(-(active + len(schemes)) // PER_FILE)
    body = "".join(f"<sitemap><loc>{base}/sitemaps/{n}.xml</loc></sitemap>" for n in range(files))
    return f"{_HEAD}<sitemapindex {_NS}>{body}</sitemapindex>"


@get(
    "/sitemaps/{name:str}",
    include_in_schema=False,
    sync_to_thread=True,
    media_type="application/xml",
)
def sitemap_part(request: AnyRequest, app_services: Deps, name: FromPath[str]) -> str:
    """File ``part`` of the index: of the competence pages then the profiles by id, the
    ``part``-th run of PER_FILE."""
    base, schemes = _base(request), sorted(app_services.catalogue.schemes)
    number = name.removesuffix(".xml")
    if not (name.endswith(".xml") and number.isascii() and number.isdigit() and len(number) < 6):
        raise NotFoundException("no such sitemap")  # a path parameter cannot carry ".xml"
    part = int(number)
    first = part * PER_FILE  # this file's first URL in the whole list
    urls = [f"{base}/competences/{s}" for s in schemes[first : first + PER_FILE]]
    start = max(first - len(schemes), 0)  # profiles before this file
    with transaction(app_services.sessions) as session:
        first_id = None
        if start > 0:  # the id the file starts at, read in the id index alone
            first_id = session.scalar(
                select(Site.id)
                .where(Site.status == "active")
                .order_by(Site.id)
                .offset(start)
                .limit(1)
            )
            if first_id is None:
                raise NotFoundException("no such sitemap")
        statement = select(Site.id, Site.name, Site.city).where(Site.status == "active")
        if first_id is not None:
            statement = statement.where(Site.id >= first_id)
        rows = session.execute(statement.order_by(Site.id).limit(PER_FILE - len(urls))).all()
        urls += [base + profile_path(i, n, c) for i, n, c in rows]
    if not urls:
        raise NotFoundException("no such sitemap")
    return _urlset(urls)
