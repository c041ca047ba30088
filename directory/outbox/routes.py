"""What integrations and administrators pull: the change feed and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import QueryParameter

from directory.errors import FieldError, InvalidInput
from directory.gate import access
from directory.gate.auth import require_scope, require_writer
from directory.http import QUERY_TEXT, Caller, Db
from directory.outbox.changes import ChangePage, read_audit, read_changes

MAX_SEQUENCE = 2**63 - 1  # the largest id or position a BIGINT holds
# An audit id travels as a JSON number, exact only up to 2**53 (far beyond any trail).
MAX_JSON_INTEGER = 2**53 - 1


@get(
    "/v1/changes",
    guards=[require_scope("changes")],
    tags=["integrations"],
    sync_to_thread=True,
    description="Every change to public data in the order it became visible; resume with "
    "after=<next_cursor>.",
)
def changes(
    db: Db,
    after: Annotated[str, QueryParameter(max_length=20, pattern=r"^[0-9]+$")] = "0",
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> ChangePage:
    # A position past any the feed can reach is read as its end (an empty page), as a cursor
    # from the future would be: well-formed, and nothing after it yet.
    return read_changes(db, min(int(after), MAX_SEQUENCE), limit)


class AuditOut(msgspec.Struct, kw_only=True):
    id: int
    at: datetime
    actor: dict[str, str | None]
    action: str
    entity: str
    entity_id: str
    changes: dict[str, Any]


@get(
    "/v1/audit",
    guards=[require_writer],
    tags=["operations"],
    sync_to_thread=True,
    description="Every write: who (key, account, issuer), what (before and after), when, "
    "from where. Administrators read all of it; a repairer reads its organisation's "
    "(organisation=<id>, owners and editors). Oldest first; resume with after=<id>.",
)
def audit(
    db: Db,
    caller: Caller,
    after: Annotated[int, QueryParameter(ge=0, le=MAX_JSON_INTEGER)] = 0,
    entity_id: Annotated[str | None, QueryParameter(max_length=128, pattern=QUERY_TEXT)] = None,
    organisation: Annotated[str | None, QueryParameter(max_length=40, pattern=QUERY_TEXT)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> dict[str, list[AuditOut]]:
    if not caller.admin:
        if organisation is None:
            raise InvalidInput(
                "name your organisation: organisation=<id>",
                errors=[FieldError("/query/organisation", "required for repairers")],
            )
        # Loaded with the membership test in the query: a stranger gets 403, never rows.
        access.organisation_for_write(db, caller, organisation)
    rows = read_audit(db, after, limit, organisation=organisation, entity_id=entity_id)
    return {"items": [msgspec.convert(r, AuditOut, from_attributes=True) for r in rows]}


route_handlers: list[Any] = [changes, audit]
