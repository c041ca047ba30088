"""Members of an organisation (owners and editors, invitations) and listing claims: repairers
asking to own an existing listing, decided by an administrator."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from directory.accounts import service as accounts
from directory.db import utcnow
from directory.errors import Conflict, InvalidInput, NotFound
from directory.gate.access import EDITORS, OWNERS, organisation_for_write
from directory.gate.auth import Principal
from directory.mail import Mailer
from directory.models import Account, Invitation, ListingClaim, Organisation, Role

__all__ = [
    "add_member",
    "decide_listing_claim",
    "list_listing_claims",
    "members",
    "remove_member",
    "request_listing",
]


# --- members --------------------------------------------------------------------------------------


def members(session: Session, organisation_id: str) -> list[tuple[Account, Role]]:
    rows = session.execute(
        select(Account, Role)
        .join(Role, Role.account_id == Account.id)
        .where(Role.organisation_id == organisation_id)
        .order_by(Account.email)
    )
    return [(a, r) for a, r in rows]


def add_member(
    session: Session,
    mailer: Mailer,
    principal: Principal | None,
    organisation_id: str,
    email: str,
    role: str,
) -> str:
    """Gives ``role`` to the account with this address, or invites the address: the role is
    granted when it verifies. Answers "granted" or "invited"."""
    org = organisation_for_write(session, principal, organisation_id, OWNERS)
    email = accounts.normalise_email(email)
    if role not in EDITORS:
        raise InvalidInput(f"role must be one of {', '.join(EDITORS)}")
    account = session.scalars(select(Account).where(Account.email == email)).one_or_none()
    name = org.trade_name or org.legal_name
    if account is not None and account.verified_at is not None:
        current = session.get(Role, (org.id, account.id))
        if current is not None and current.role == "owner" and role != "owner":
            _keep_an_owner(session, org.id, account.id)
        accounts.grant(session, org.id, account.id, role)
        session.flush()
        mailer.send(email, f"You are now {role} of {name} on Atelier", "Log in to manage it.\n")
        return "granted"
    invitation = session.scalars(
        select(Invitation).where(Invitation.organisation_id == org.id, Invitation.email == email)
    ).one_or_none()
    if invitation is None:
        invitation = Invitation(organisation_id=org.id, email=email, role=role)
        session.add(invitation)
    invitation.role = role
    invitation.accepted_at = None
    invitation.invited_by = principal.label if principal else "cli"
    session.flush()
    mailer.send(
        email,
        f"You are invited to manage {name} on Atelier",
        f"You are invited to become {role} of {name}. Sign up with this address to accept.\n",
    )
    return "invited"


def _keep_an_owner(session: Session, organisation_id: str, leaving: str) -> None:
    owners = session.scalars(
        select(Role.account_id).where(Role.organisation_id == organisation_id, Role.role == "owner")
    ).all()
    if list(owners) == [leaving]:
        raise Conflict("an organisation keeps at least one owner; make someone else owner first")


def remove_member(
    session: Session, principal: Principal | None, organisation_id: str, account_id: str
) -> None:
    org = organisation_for_write(session, principal, organisation_id, OWNERS)
    role = session.get(Role, (org.id, account_id))
    if role is None:
        raise NotFound(f"{account_id!r} is not a member of this organisation")
    if role.role == "owner":
        _keep_an_owner(session, org.id, account_id)
    session.delete(role)
    session.flush()


# --- listing claims -------------------------------------------------------------------------------


def request_listing(
    session: Session, principal: Principal, organisation_id: str, message: str | None
) -> ListingClaim:
    """A repairer asks to own an existing (typically imported) organisation. Nothing about the
    organisation changes until an administrator approves."""
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"no organisation {organisation_id!r}")
    if org.status == "closed":
        raise Conflict("this organisation is closed")
    if session.get(Role, (org.id, principal.id)) is not None:
        raise Conflict("you are already a member of this organisation")
    pending = session.scalars(
        select(ListingClaim).where(
            ListingClaim.organisation_id == org.id,
            ListingClaim.account_id == principal.id,
            ListingClaim.status == "pending",
        )
    ).one_or_none()
    if pending is not None:
        return pending  # asking twice is one request
    claim = ListingClaim(organisation_id=org.id, account_id=principal.id, message=message)
    session.add(claim)
    session.flush()
    return claim


def list_listing_claims(
    session: Session, status: str | None = "pending", limit: int = 100
) -> list[tuple[ListingClaim, str]]:
    stmt = (
        select(ListingClaim, Account.email)
        .join(Account, Account.id == ListingClaim.account_id)
        .order_by(ListingClaim.created_at, ListingClaim.id)
        .limit(limit)
    )
    if status:
        stmt = stmt.where(ListingClaim.status == status)
    return [(c, e) for c, e in session.execute(stmt)]


def decide_listing_claim(
    session: Session,
    mailer: Mailer,
    claim_id: str,
    approve: bool,
    decided_by: str,
    reason: str | None = None,
) -> ListingClaim:
    claim = session.scalars(
        select(ListingClaim).where(ListingClaim.id == claim_id).with_for_update()
    ).one_or_none()
    if claim is None:
        raise NotFound(f"no listing claim {claim_id!r}")
    if claim.status != "pending":
        raise Conflict(f"this claim was already {claim.status}")
    claim.status = "approved" if approve else "rejected"
    claim.decided_at = utcnow()
    claim.decided_by = decided_by
    claim.reason = reason
    account = session.get(Account, claim.account_id)
    org = session.get(Organisation, claim.organisation_id)
    assert account is not None and org is not None  # noqa: S101 - foreign keys
    if approve:
        accounts.grant(session, org.id, account.id, "owner")
    session.flush()
    name = org.trade_name or org.legal_name
    mailer.send(
        account.email,
        f"Your claim of {name} was {claim.status}",
        f"Your request to manage {name} on Atelier was {claim.status}."
        + (f"\nReason: {reason}\n" if reason else "\n"),
    )
    return claim
