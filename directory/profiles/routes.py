"""The v1 profile API: organisations and sites. Handlers parse, call one service, return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.params import JSONBody, QueryParameter

from directory.accounts import service as accounts
from directory.db import etag
from directory.errors import FieldError, InvalidInput
from directory.gate import access
from directory.gate.auth import require_writer
from directory.http import QUERY_TEXT, AnyRequest, Caller, Db, Deps, Id, IfMatch, tagged
from directory.models import Site
from directory.profiles import jsonld
from directory.profiles import service as profiles
from directory.profiles.schemas import (
    OrganisationCreate,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
    SiteCreate,
    SiteOut,
    SitePage,
    SitePatch,
)
from directory.trust.service import competences_for

__all__ = ["route_handlers"]

Limit = Annotated[int, QueryParameter(ge=1, le=profiles.MAX_PAGE, description="page length")]
Cursor = Annotated[
    str | None,
    QueryParameter(max_length=200, pattern=QUERY_TEXT, description="from the previous page"),
]
# Read as text and parsed here: Litestar would also take a bare number as an epoch instant.
UpdatedAfter = Annotated[
    str | None,
    QueryParameter(
        description="RFC 3339 instant, with its offset",
        max_length=40,
        pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)$",
    ),
]


def _instant(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        return msgspec.convert(raw, datetime)
    except msgspec.ValidationError as err:
        raise InvalidInput(
            "invalid instant",
            errors=[FieldError("/query/updated_after", "not an RFC 3339 instant")],
        ) from err


# Accounts and administrators pass the guard; which objects an account may touch is decided
# where each object is loaded (directory/gate/access.py).
WRITERS = [require_writer]


def _published(app_services: Deps, db: Db, sites: list[Site]) -> list[SiteOut]:
    """Sites as published: with their effective competences now, loaded in one batch."""
    competences = competences_for(db, app_services.catalogue, [s.id for s in sites])
    return [profiles.site_out(s, competences[s.id]) for s in sites]


class OrganisationController(Controller):
    path = "/v1/organisations"
    tags = ["organisations"]

    @post("/", guards=WRITERS, sync_to_thread=True, status_code=201)
    def create(
        self, db: Db, caller: Caller, data: JSONBody[OrganisationCreate]
    ) -> Response[OrganisationOut]:
        """A repairer who creates an organisation becomes its owner."""
        org = profiles.create_organisation(db, data)
        if caller.kind == "account" and caller.id:
            accounts.grant(db, org.id, caller.id, "owner")
            db.flush()
        out = profiles.organisation_out(org)
        return tagged(out, out.version, 201, f"/v1/organisations/{out.id}")

    @get("/", sync_to_thread=True)
    def index(
        self,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = 20,
        updated_after: UpdatedAfter = None,
    ) -> OrganisationPage:
        rows, nxt = profiles.list_organisations(db, cursor, limit, _instant(updated_after))
        return OrganisationPage(items=[profiles.organisation_out(o) for o in rows], next_cursor=nxt)

    @get("/{organisation_id:str}", sync_to_thread=True)
    def read(self, db: Db, organisation_id: Id) -> Response[OrganisationOut]:
        out = profiles.organisation_out(profiles.get_organisation(db, organisation_id))
        return tagged(out, out.version)

    @patch("/{organisation_id:str}", guards=WRITERS, sync_to_thread=True)
    def update(
        self,
        db: Db,
        caller: Caller,
        organisation_id: Id,
        data: JSONBody[OrganisationPatch],
        if_match: IfMatch = None,
    ) -> Response[OrganisationOut]:
        access.organisation_for_write(db, caller, organisation_id)
        out = profiles.organisation_out(
            profiles.patch_organisation(db, organisation_id, data, if_match)
        )
        return tagged(out, out.version)

    @delete("/{organisation_id:str}", guards=WRITERS, sync_to_thread=True, status_code=200)
    def close(
        self, db: Db, caller: Caller, organisation_id: Id, if_match: IfMatch = None
    ) -> Response[OrganisationOut]:
        """Closing needs an owner: editors manage the profile and sites, not the entity."""
        access.organisation_for_write(db, caller, organisation_id, access.OWNERS)
        out = profiles.organisation_out(profiles.close_organisation(db, organisation_id, if_match))
        return tagged(out, out.version)

    @post("/{organisation_id:str}/sites", guards=WRITERS, sync_to_thread=True, status_code=201)
    def create_site(
        self,
        app_services: Deps,
        db: Db,
        caller: Caller,
        organisation_id: Id,
        data: JSONBody[SiteCreate],
    ) -> Response[SiteOut]:
        access.organisation_for_write(db, caller, organisation_id)
        site = profiles.create_site(db, app_services.geocoder, organisation_id, data)
        (out,) = _published(app_services, db, [site])
        return tagged(out, out.version, 201, out.url)


class SiteController(Controller):
    path = "/v1/sites"
    tags = ["sites"]

    @get("/", sync_to_thread=True)
    def index(
        self,
        app_services: Deps,
        db: Db,
        cursor: Cursor = None,
        limit: Limit = 20,
        updated_after: UpdatedAfter = None,
    ) -> SitePage:
        rows, nxt = profiles.list_sites(db, cursor, limit, _instant(updated_after))
        return SitePage(items=_published(app_services, db, rows), next_cursor=nxt)

    @get(
        "/{site_id:str}",
        sync_to_thread=True,
        description="The public profile; `Accept: application/ld+json` gives schema.org JSON-LD.",
    )
    def read(
        self, request: AnyRequest, app_services: Deps, db: Db, site_id: Id
    ) -> Response[SiteOut]:
        (out,) = _published(app_services, db, [profiles.get_site(db, site_id)])
        if request.accept.best_match(["application/json", jsonld.MEDIA_TYPE]) == jsonld.MEDIA_TYPE:
            return Response(
                msgspec.json.encode(jsonld.site_jsonld(out)),  # type: ignore[arg-type]
                media_type=jsonld.MEDIA_TYPE,
                headers={"ETag": etag(out.version)},
            )
        return tagged(out, out.version)

    @patch("/{site_id:str}", guards=WRITERS, sync_to_thread=True)
    def update(
        self,
        app_services: Deps,
        db: Db,
        caller: Caller,
        site_id: Id,
        data: JSONBody[SitePatch],
        if_match: IfMatch = None,
    ) -> Response[SiteOut]:
        access.site_for_write(db, caller, site_id)
        site = profiles.patch_site(db, app_services.geocoder, site_id, data, if_match)
        (out,) = _published(app_services, db, [site])
        return tagged(out, out.version)

    @delete(
        "/{site_id:str}",
        guards=WRITERS,
        sync_to_thread=True,
        status_code=200,
        description="Closes the site: it leaves search and its id is never reused.",
    )
    def close(
        self,
        app_services: Deps,
        db: Db,
        caller: Caller,
        site_id: Id,
        if_match: IfMatch = None,
    ) -> Response[SiteOut]:
        access.site_for_write(db, caller, site_id)
        (out,) = _published(app_services, db, [profiles.close_site(db, site_id, if_match)])
        return tagged(out, out.version)


route_handlers: list[Any] = [OrganisationController, SiteController]
