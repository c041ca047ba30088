"""What integrations and administrators pull: the change feed and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from sqlalchemy import select

from directory import access
from directory.auth import principal_of, require_scope, require_writer
from directory.changes import ChangePage, read_changes
from directory.db import transaction
from directory.errors import InvalidInput
from directory.models import AuditEntry
from directory.validation import FieldError


@get(
    "/v1/changes",
    guards=[require_scope("changes")],
    tags=["integrations"],
    sync_to_thread=True,
    description="Every change to public data in the order it became visible; resume with "
    "after=<next_cursor>.",
)
def changes(
    state: State,
    after: Annotated[str, QueryParameter(max_length=20, pattern=r"^[0-9]+$")] = "0",
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> ChangePage:
    with transaction(state.sessions) as session:
        return read_changes(session, int(after), limit)


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
    request: Request[Any, Any, Any],
    state: State,
    after: Annotated[int, QueryParameter(ge=0)] = 0,
    entity_id: Annotated[str | None, QueryParameter(max_length=128)] = None,
    organisation: Annotated[str | None, QueryParameter(max_length=40)] = None,
    limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
) -> dict[str, list[AuditOut]]:
    principal = principal_of(request)
    with transaction(state.sessions) as session:
        stmt = select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id)
        if not principal.admin:
            if organisation is None:
                raise InvalidInput(
                    "name your organisation: organisation=<id>",
                    errors=[FieldError("/query/organisation", "required for repairers")],
                )
            # Loaded with the membership test in the query: a stranger gets 403, never rows.
            access.organisation_for_write(session, principal, organisation)
        if organisation is not None:
            stmt = stmt.where(AuditEntry.organisation_id == organisation)
        if entity_id:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        rows = session.scalars(stmt.limit(limit)).all()
        return {
            "items": [
                AuditOut(
                    id=r.id,
                    at=r.at,
                    action=r.action,
                    entity=r.entity,
                    entity_id=r.entity_id,
                    changes=r.changes,
                    actor={"kind": r.actor_kind, "id": r.actor_id, "ip": r.ip},
                )
                for r in rows
            ]
        }
