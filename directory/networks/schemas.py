"""Wire types of networks and their member lists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import UNSET, Meta, UnsetType

from directory.vocabulary import (
    Input,
    Name,
    NetworkKind,
    NetworkVisibility,
    SiteId,
)

MAX_MEMBERS = 20_000


class NetworkCreate(Input):
    name: Name
    kind: NetworkKind
    visibility: NetworkVisibility = "private"  # an integration's list is its own by default


class NetworkPatch(Input):
    name: Name | UnsetType = UNSET
    visibility: NetworkVisibility | UnsetType = UNSET


class NetworkOut(msgspec.Struct, kw_only=True):
    members: int = 0  # counted apart (networks_out), not an attribute of the row
    id: str
    name: str
    kind: str
    visibility: str
    created_at: datetime
    updated_at: datetime
    version: int


class MembersIn(Input):
    sites: Annotated[list[SiteId], Meta(max_length=MAX_MEMBERS)]


class MembersOut(msgspec.Struct, kw_only=True):
    network_id: str
    sites: list[str]
    next_cursor: str | None = None


class MembersReplaced(msgspec.Struct, kw_only=True):
    network_id: str
    members: int
    added: int
    removed: int
