"""The outbox and audit rule: every flush that changes public data also writes its outbox
events and audit rows, in the same transaction.

Written as a flush hook rather than by each service function, so that no code path (API, import,
CLI, a future one) can change public data without its event. The hook rides on the session
factories made here, not on every SQLAlchemy Session of the process: a session made elsewhere
(a test's, a library's) is left alone.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import Engine, event, inspect
from sqlalchemy.orm import InstanceState, Session, sessionmaker

from directory.audit import current_actor
from directory.models import (
    Account,
    ApiKey,
    Attestation,
    AuditEntry,
    Claim,
    Invitation,
    ListingClaim,
    Membership,
    Network,
    Organisation,
    OrganisationIdentifier,
    OutboxEvent,
    PublicRecord,
    Role,
    Site,
    Technician,
)

__all__ = ["make_sessionmaker"]


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions on the record: each flush writes the outbox events and audit rows it implies."""
    factory = sessionmaker(engine, expire_on_commit=False)
    event.listen(factory, "before_flush", _write_outbox)
    return factory


def _event_for(obj: object, state: str) -> tuple[str, str, str] | None:
    if isinstance(obj, Network) and state == "update" and obj.visibility == "private":
        before = inspect(obj).attrs.visibility.history.deleted
        if before and before[0] == "public":
            return "network", obj.id, "delete"  # it left the public directory
    if isinstance(obj, PublicRecord):
        if state == "update" and getattr(obj, "status", None) == "closed":
            state = "delete"  # a closed site or organisation leaves the public directory
        return obj.__tablename__, obj.id, state
    if isinstance(obj, OrganisationIdentifier):
        return "organisation", obj.organisation_id, "update"
    if isinstance(obj, Membership):
        return "site", obj.site_id, "update"
    if isinstance(obj, Attestation):
        if state == "update":
            state = "revoke" if obj.revoked_at is not None else "expire"
        return "attestation", obj.jti, state
    if isinstance(obj, Claim):
        return "claim", obj.id, "delete" if obj.withdrawn_at is not None else state
    return None


def _moved_from(obj: object) -> str | None:
    """The site a technician just left: its competences change too."""
    if isinstance(obj, Technician):
        old = inspect(obj).attrs.site_id.history.deleted
        return old[0] if old else None
    return None


def _write_outbox(session: Session, _ctx: object, _instances: object) -> None:
    seen: set[tuple[str, str, str]] = set()
    # session.new builds a fresh set on each access: read it once, not once per object.
    changed = [(o, "create") for o in session.new] + [(o, "delete") for o in session.deleted]
    changed += [(o, "update") for o in session.dirty if session.is_modified(o)]
    for obj, state in changed:
        if isinstance(obj, OutboxEvent):
            continue
        left = _moved_from(obj) if state == "update" else None
        if left is not None and ("site", left, "update") not in seen:
            seen.add(("site", left, "update"))
            session.add(OutboxEvent(entity="site", entity_id=left, op="update"))
        found = _event_for(obj, state)
        if found is None or found in seen:
            continue
        if found[1] is None:  # a child whose parent id is assigned at flush: the parent emits
            continue
        seen.add(found)
        session.add(OutboxEvent(entity=found[0], entity_id=found[1], op=found[2]))
    _write_audit(session)


_NOT_AUDITED = {"updated_at", "version", "created_at"}
_SECRETS = {"secret_hash", "token", "password_hash", "token_hash", "csrf_hash"}
# Sessions and one-time tokens are not audited: they are credentials, not changes to the record.
_AUDITED = (
    PublicRecord,
    Attestation,
    Claim,
    ApiKey,
    Account,
    Role,
    Invitation,
    ListingClaim,
    Membership,
)


def _site_org(session: Session, site_id: str | None) -> str | None:
    if site_id is None:
        return None
    with session.no_autoflush:  # inside a flush: look up, never flush again
        site = session.get(Site, site_id)
    return site.organisation_id if site is not None else None


def _organisation_of(session: Session, obj: object) -> str | None:
    """Which organisation may read this audit row (GET /v1/audit for its members)."""
    if isinstance(obj, Organisation):
        return obj.id
    if isinstance(obj, Site | Role | Invitation | ListingClaim):
        return obj.organisation_id
    if isinstance(obj, Claim):
        return _site_org(session, obj.site_id)
    if isinstance(obj, Technician):
        return _site_org(session, obj.site_id)
    if isinstance(obj, Attestation):
        subject = obj.subject_id
        if subject.startswith("tc_"):
            with session.no_autoflush:
                tech = session.get(Technician, subject)
            subject = tech.site_id if tech is not None else ""
        return _site_org(session, subject or None)
    # Memberships are left out on purpose: a private network's members are its owner's business.
    return None


def _write_audit(session: Session) -> None:
    """One audit row per changed public record, with the before and after of each field."""
    actor = current_actor.get()
    for obj, action in (
        [(o, "create") for o in session.new]
        + [(o, "update") for o in session.dirty if session.is_modified(o)]
        + [(o, "delete") for o in session.deleted]
    ):
        if not isinstance(obj, _AUDITED):
            continue
        state: InstanceState[Any] = inspect(obj)
        changes: dict[str, Any] = {}
        for attr in state.mapper.column_attrs:
            if attr.key in _NOT_AUDITED or attr.key in _SECRETS:
                continue  # secrets never reach the audit trail; tokens are stored elsewhere
            hist = state.attrs[attr.key].history
            if action == "create":
                value = getattr(obj, attr.key)
                if value is not None:
                    changes[attr.key] = [None, msgspec.to_builtins(value)]
            elif hist.has_changes():
                before = hist.deleted[0] if hist.deleted else None
                after = hist.added[0] if hist.added else None
                changes[attr.key] = [msgspec.to_builtins(before), msgspec.to_builtins(after)]
        if action == "update" and not changes:
            continue
        key = getattr(obj, "id", None) or getattr(obj, "jti", None)
        if isinstance(obj, Role | Membership):
            key = f"{obj.organisation_id if isinstance(obj, Role) else obj.network_id}:" + (
                obj.account_id if isinstance(obj, Role) else obj.site_id
            )
        session.add(
            AuditEntry(
                actor_kind=actor.kind,
                actor_id=actor.id,
                ip=actor.ip,
                action=action,
                entity=obj.__tablename__,
                entity_id=str(key or ""),
                organisation_id=_organisation_of(session, obj),
                changes=changes,
            )
        )
