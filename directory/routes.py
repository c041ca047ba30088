"""The v1 profile API: organisations and sites. Controllers parse, call one service, return."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from sqlalchemy.orm import Session

from directory import access, accounts, attestations, jsonld, profiles
from directory.auth import principal_of, require_writer
from directory.db import transaction
from directory.models import Site
from directory.schemas import (
    OrganisationCreate,
    OrganisationOut,
    OrganisationPage,
    OrganisationPatch,
    SiteCreate,
    SiteOut,
    SitePage,
    SitePatch,
)

IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", description="the ETag you read")]
Limit = Annotated[int, QueryParameter(ge=1, le=profiles.MAX_PAGE, description="page length")]
Cursor = Annotated[str | None, QueryParameter(max_length=200, description="from the previous page")]
UpdatedAfter = Annotated[datetime | None, QueryParameter(description="RFC 3339 instant")]
Id = Annotated[str, PathParameter(max_length=40)]

# Accounts and administrators pass the guard; which objects an account may touch is decided
# where each object is loaded (directory/access.py).
WRITERS = [require_writer]
AnyRequest = Request[Any, Any, Any]


def _profiles(state: State, session: Session, sites: list[Site]) -> list[SiteOut]:
    """Sites as published: with their effective competences now, loaded in one batch."""
    competences = attestations.competences_for(session, state.catalogue, [s.id for s in sites])
    return [profiles.site_out(s, competences[s.id]) for s in sites]


def _tagged(
    body: Any, version: int, status: int = 200, location: str | None = None
) -> Response[Any]:
    headers = {"ETag": profiles.etag(version)}
    if location:
        headers["Location"] = location
    return Response(body, status_code=status, headers=headers)


class OrganisationController(Controller):
    path = "/v1/organisations"
    tags = ["organisations"]

    @post("/", guards=WRITERS, sync_to_thread=True, status_code=201)
    def create(
        self, request: AnyRequest, state: State, data: JSONBody[OrganisationCreate]
    ) -> Response[OrganisationOut]:
        """A repairer who creates an organisation becomes its owner."""
        principal = principal_of(request)
        with transaction(state.sessions) as session:
            org = profiles.create_organisation(session, data)
            if principal.kind == "account" and principal.id:
                accounts.grant(session, org.id, principal.id, "owner")
                session.flush()
            out = profiles.organisation_out(org)
        return _tagged(out, out.version, 201, f"/v1/organisations/{out.id}")

    @get("/", sync_to_thread=True)
    def index(
        self,
        state: State,
        cursor: Cursor = None,
        limit: Limit = 20,
        updated_after: UpdatedAfter = None,
    ) -> OrganisationPage:
        with transaction(state.sessions) as session:
            rows, nxt = profiles.list_organisations(session, cursor, limit, updated_after)
            return OrganisationPage(
                items=[profiles.organisation_out(o) for o in rows], next_cursor=nxt
            )

    @get("/{organisation_id:str}", sync_to_thread=True)
    def read(self, state: State, organisation_id: Id) -> Response[OrganisationOut]:
        with transaction(state.sessions) as session:
            out = profiles.organisation_out(profiles.get_organisation(session, organisation_id))
        return _tagged(out, out.version)

    @patch("/{organisation_id:str}", guards=WRITERS, sync_to_thread=True)
    def update(
        self,
        request: AnyRequest,
        state: State,
        organisation_id: Id,
        data: JSONBody[OrganisationPatch],
        if_match: IfMatch = None,
    ) -> Response[OrganisationOut]:
        with transaction(state.sessions) as session:
            access.organisation_for_write(session, principal_of(request), organisation_id)
            org = profiles.patch_organisation(session, organisation_id, data, if_match)
            out = profiles.organisation_out(org)
        return _tagged(out, out.version)

    @delete("/{organisation_id:str}", guards=WRITERS, sync_to_thread=True, status_code=200)
    def close(
        self, request: AnyRequest, state: State, organisation_id: Id, if_match: IfMatch = None
    ) -> Response[OrganisationOut]:
        """Closing needs an owner: editors manage the profile and sites, not the entity."""
        with transaction(state.sessions) as session:
            access.organisation_for_write(
                session, principal_of(request), organisation_id, access.OWNERS
            )
            out = profiles.organisation_out(
                profiles.close_organisation(session, organisation_id, if_match)
            )
        return _tagged(out, out.version)

    @post("/{organisation_id:str}/sites", guards=WRITERS, sync_to_thread=True, status_code=201)
    def create_site(
        self, request: AnyRequest, state: State, organisation_id: Id, data: JSONBody[SiteCreate]
    ) -> Response[SiteOut]:
        with transaction(state.sessions) as session:
            access.organisation_for_write(session, principal_of(request), organisation_id)
            site = profiles.create_site(session, state.geocoder, organisation_id, data)
            (out,) = _profiles(state, session, [site])
        return _tagged(out, out.version, 201, out.url)


class SiteController(Controller):
    path = "/v1/sites"
    tags = ["sites"]

    @get("/", sync_to_thread=True)
    def index(
        self,
        state: State,
        cursor: Cursor = None,
        limit: Limit = 20,
        updated_after: UpdatedAfter = None,
    ) -> SitePage:
        with transaction(state.sessions) as session:
            rows, nxt = profiles.list_sites(session, cursor, limit, updated_after)
            return SitePage(items=_profiles(state, session, rows), next_cursor=nxt)

    @get(
        "/{site_id:str}",
        sync_to_thread=True,
        description="The public profile; `Accept: application/ld+json` gives schema.org JSON-LD.",
    )
    def read(self, request: AnyRequest, state: State, site_id: Id) -> Response[SiteOut]:
        with transaction(state.sessions) as session:
            (out,) = _profiles(state, session, [profiles.get_site(session, site_id)])
        if request.accept.best_match(["application/json", jsonld.MEDIA_TYPE]) == jsonld.MEDIA_TYPE:
            return Response(
                msgspec.json.encode(jsonld.site_jsonld(out)),  # type: ignore[arg-type]
                media_type=jsonld.MEDIA_TYPE,
                headers={"ETag": profiles.etag(out.version)},
            )
        return _tagged(out, out.version)

    @patch("/{site_id:str}", guards=WRITERS, sync_to_thread=True)
    def update(
        self,
        request: AnyRequest,
        state: State,
        site_id: Id,
        data: JSONBody[SitePatch],
        if_match: IfMatch = None,
    ) -> Response[SiteOut]:
        with transaction(state.sessions) as session:
            access.site_for_write(session, principal_of(request), site_id)
            site = profiles.patch_site(session, state.geocoder, site_id, data, if_match)
            (out,) = _profiles(state, session, [site])
        return _tagged(out, out.version)

    @delete(
        "/{site_id:str}",
        guards=WRITERS,
        sync_to_thread=True,
        status_code=200,
        description="Closes the site: it leaves search and its id is never reused.",
    )
    def close(
        self, request: AnyRequest, state: State, site_id: Id, if_match: IfMatch = None
    ) -> Response[SiteOut]:
        with transaction(state.sessions) as session:
            access.site_for_write(session, principal_of(request), site_id)
            (out,) = _profiles(state, session, [profiles.close_site(session, site_id, if_match)])
        return _tagged(out, out.version)
