"""Networks over HTTP: integrations keep their own lists of member sites."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, patch, post, put
from litestar.params import HeaderParameter, JSONBody, QueryParameter

from directory.gate.auth import require_scope
from directory.http import QUERY_TEXT, Caller, Db, Id, tagged
from directory.networks import service as networks
from directory.networks.schemas import (
    MembersIn,
    MembersOut,
    MembersReplaced,
    NetworkCreate,
    NetworkOut,
    NetworkPatch,
)

WRITE = [require_scope("networks:write")]


class NetworkController(Controller):
    """Integrations keep their own lists of member sites (handlers live on a controller, so
    each application gets its own copies of them)."""

    path = "/v1/networks"
    tags = ["networks"]

    @post("/", guards=WRITE, sync_to_thread=True, status_code=201)
    def create(self, db: Db, caller: Caller, data: JSONBody[NetworkCreate]) -> Response[NetworkOut]:
        network = networks.create_network(db, caller, data)
        out = networks.network_out(db, network)
        return tagged(out, out.version, 201, f"/v1/networks/{out.id}")

    @get("/", sync_to_thread=True)
    def index(self, db: Db, caller: Caller) -> dict[str, list[NetworkOut]]:
        """Public networks, and the caller's own private ones."""
        return {"items": networks.networks_out(db, networks.visible_networks(db, caller))}

    @get("/{network_id:str}", sync_to_thread=True)
    def read(self, db: Db, caller: Caller, network_id: Id) -> Response[NetworkOut]:
        network = networks.visible_network(db, caller, network_id)
        out = networks.network_out(db, network)
        return tagged(out, out.version)

    @patch("/{network_id:str}", guards=WRITE, sync_to_thread=True)
    def update(
        self,
        db: Db,
        caller: Caller,
        network_id: Id,
        data: JSONBody[NetworkPatch],
        if_match: Annotated[str | None, HeaderParameter(name="If-Match")] = None,
    ) -> Response[NetworkOut]:
        """Rename, or publish (visibility "public") / withdraw (visibility "private")."""
        network = networks.patch_network(db, caller, network_id, data, if_match)
        out = networks.network_out(db, network)
        return tagged(out, out.version)

    @put(
        "/{network_id:str}/members",
        guards=WRITE,
        sync_to_thread=True,
        description="Replace the member sites (up to 20,000); the same list twice changes nothing.",
    )
    def replace_members(
        self, db: Db, caller: Caller, network_id: Id, data: JSONBody[MembersIn]
    ) -> MembersReplaced:
        network, count, added, removed = networks.replace_members(
            db, caller, network_id, data.sites
        )
        return MembersReplaced(network_id=network.id, members=count, added=added, removed=removed)

    @get("/{network_id:str}/members", sync_to_thread=True)
    def list_members(
        self,
        db: Db,
        caller: Caller,
        network_id: Id,
        cursor: Annotated[str | None, QueryParameter(max_length=40, pattern=QUERY_TEXT)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 1000,
    ) -> MembersOut:
        network = networks.visible_network(db, caller, network_id)
        sites, nxt = networks.members(db, network.id, cursor, limit)
        return MembersOut(network_id=network.id, sites=sites, next_cursor=nxt)


route_handlers: list[Any] = [NetworkController]
