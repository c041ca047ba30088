"""Networks over HTTP: integrations keep their own lists of member sites."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post, put
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody, PathParameter, QueryParameter
from sqlalchemy import select

from directory import networks
from directory.auth import principal_of, require_scope
from directory.db import transaction
from directory.models import Network
from directory.profiles import etag
from directory.schemas import (
    MembersIn,
    MembersOut,
    MembersReplaced,
    NetworkCreate,
    NetworkOut,
    NetworkPatch,
)

Id = Annotated[str, PathParameter(max_length=40)]
AnyRequest = Request[Any, Any, Any]
WRITE = [require_scope("networks:write")]


class NetworkController(Controller):
    """Integrations keep their own lists of member sites (handlers live on a controller, so
    each application gets its own copies of them)."""

    path = "/v1/networks"
    tags = ["networks"]

    @post("/", guards=WRITE, sync_to_thread=True, status_code=201)
    def create(
        self, request: AnyRequest, state: State, data: JSONBody[NetworkCreate]
    ) -> Response[NetworkOut]:
        with transaction(state.sessions) as session:
            network = networks.create_network(session, principal_of(request), data)
            out = networks.network_out(session, network)
        return Response(
            out,
            status_code=201,
            headers={"ETag": etag(out.version), "Location": f"/v1/networks/{out.id}"},
        )

    @get("/", sync_to_thread=True)
    def index(self, request: AnyRequest, state: State) -> dict[str, list[NetworkOut]]:
        """Public networks, and the caller's own private ones."""
        principal = principal_of(request)
        with transaction(state.sessions) as session:
            rows = session.scalars(
                select(Network)
                .where(networks.visible_clause(principal))
                .order_by(Network.id)
                .limit(1000)
            ).all()
            return {"items": networks.networks_out(session, list(rows))}

    @get("/{network_id:str}", sync_to_thread=True)
    def read(self, request: AnyRequest, state: State, network_id: Id) -> Response[NetworkOut]:
        with transaction(state.sessions) as session:
            network = networks.visible_network(session, principal_of(request), network_id)
            out = networks.network_out(session, network)
        return Response(out, headers={"ETag": etag(out.version)})

    @patch("/{network_id:str}", guards=WRITE, sync_to_thread=True)
    def update(
        self,
        request: AnyRequest,
        state: State,
        network_id: Id,
        data: JSONBody[NetworkPatch],
        if_match: Annotated[str | None, HeaderParameter(name="If-Match")] = None,
    ) -> Response[NetworkOut]:
        """Rename, or publish (visibility "public") / withdraw (visibility "private")."""
        with transaction(state.sessions) as session:
            network = networks.patch_network(
                session, principal_of(request), network_id, data, if_match
            )
            out = networks.network_out(session, network)
        return Response(out, headers={"ETag": etag(out.version)})

    @put(
        "/{network_id:str}/members",
        guards=WRITE,
        sync_to_thread=True,
        description="Replace the member sites (up to 20,000); the same list twice changes nothing.",
    )
    def replace_members(
        self, request: AnyRequest, state: State, network_id: Id, data: JSONBody[MembersIn]
    ) -> MembersReplaced:
        with transaction(state.sessions) as session:
            network, count, added, removed = networks.replace_members(
                session, principal_of(request), network_id, data.sites
            )
            return MembersReplaced(
                network_id=network.id, members=count, added=added, removed=removed
            )

    @get("/{network_id:str}/members", sync_to_thread=True)
    def list_members(
        self,
        request: AnyRequest,
        state: State,
        network_id: Id,
        cursor: Annotated[str | None, QueryParameter(max_length=40)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 1000,
    ) -> MembersOut:
        with transaction(state.sessions) as session:
            network = networks.visible_network(session, principal_of(request), network_id)
            sites, nxt = networks.members(session, network.id, cursor, limit)
            return MembersOut(network_id=network.id, sites=sites, next_cursor=nxt)


route_handlers: list[Any] = [NetworkController]
