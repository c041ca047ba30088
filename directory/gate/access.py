"""Who may change what. Every object-level check is part of the query that loads the object:
a row the caller may not write is never loaded for writing, so there is no gap between a
check and a use. Roles: owner (everything, including members) and editor (profile and sites)."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import false, select
from sqlalchemy.orm import Session

from directory.errors import Forbidden, NotFound
from directory.gate.auth import Principal
from directory.models import Organisation, Role, Site, Technician

__all__ = ["EDITORS", "OWNERS", "organisation_for_write", "site_for_write", "technician_for_write"]

EDITORS = ("owner", "editor")
OWNERS = ("owner",)
T = TypeVar("T", Organisation, Site, Technician)


def _member_of(principal: Principal, roles: tuple[str, ...]) -> Any:
    return select(Role.organisation_id).where(Role.account_id == principal.id, Role.role.in_(roles))


def _load(
    session: Session,
    model: type[T],
    key: str,
    principal: Principal | None,
    organisation_column: Any,
    roles: tuple[str, ...],
    what: str,
) -> T:
    stmt = select(model).where(model.id == key)
    entitled = principal is None or principal.admin  # None: the server itself (CLI, importer)
    if not entitled:
        if principal is None or principal.kind != "account" or organisation_column is None:
            stmt = stmt.where(false())  # keys other than admin write no profile
        else:
            stmt = stmt.where(organisation_column.in_(_member_of(principal, roles)))
    row = session.scalars(stmt).one_or_none()
    if row is not None:
        return row
    # Only to choose the right answer: the refused row is not used.
    if session.scalar(select(model.id).where(model.id == key)) is None:
        raise NotFound(f"no {what} {key!r}")
    need = "an owner" if roles == OWNERS else "a member"
    raise Forbidden(f"you must be {need} of this {what}'s organisation")


def organisation_for_write(
    session: Session,
    principal: Principal | None,
    organisation_id: str,
    roles: tuple[str, ...] = EDITORS,
) -> Organisation:
    return _load(
        session, Organisation, organisation_id, principal, Organisation.id, roles, "organisation"
    )


def site_for_write(session: Session, principal: Principal | None, site_id: str) -> Site:
    return _load(session, Site, site_id, principal, Site.organisation_id, EDITORS, "site")


def technician_for_write(
    session: Session, principal: Principal | None, technician_id: str
) -> Technician:
    column = select(Site.organisation_id).where(Site.id == Technician.site_id).scalar_subquery()
    return _load(session, Technician, technician_id, principal, column, EDITORS, "technician")
