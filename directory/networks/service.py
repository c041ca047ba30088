"""Networks: an insurer's approved repairers, a fleet's list, a carmaker's network. An
integration maintains its own; a private one exists only for the keys of its integration
(everyone else gets 404 and, in search, no match), a public one is part of the directory."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from directory.db import check_if_match
from directory.errors import FieldError, Forbidden, InvalidInput, NotFound
from directory.gate.auth import Principal
from directory.models import Membership, Network, Site
from directory.networks.schemas import NetworkCreate, NetworkOut, NetworkPatch

__all__ = [
    "create_network",
    "members",
    "network_out",
    "networks_out",
    "own_private_networks",
    "patch_network",
    "replace_members",
    "visible_clause",
    "visible_network",
]


def visible_clause(principal: Principal) -> Any:
    """Which networks a caller may see: public ones, and its integration's."""
    if principal.admin:
        return Network.id.is_not(None)
    if principal.kind == "key" and principal.integration:
        return (Network.visibility == "public") | (Network.owner == principal.integration)
    return Network.visibility == "public"


def visible_networks(session: Session, principal: Principal, limit: int = 1000) -> list[Network]:
    """Public networks, and the caller's own private ones."""
    stmt = select(Network).where(visible_clause(principal)).order_by(Network.id).limit(limit)
    return list(session.scalars(stmt))


def visible_network(session: Session, principal: Principal, network_id: str) -> Network:
    network = session.scalars(
        select(Network).where(Network.id == network_id, visible_clause(principal))
    ).one_or_none()
    if network is None:
        raise NotFound(f"no network {network_id!r}")  # private ones included: nothing to learn
    return network


def owned_network(session: Session, principal: Principal, network_id: str) -> Network:
    """Loaded for writing only if the caller's integration owns it (or it is an admin)."""
    stmt = select(Network).where(Network.id == network_id)
    if not principal.admin:
        stmt = stmt.where(Network.owner == principal.integration)
    network = session.scalars(stmt).one_or_none()
    if network is not None:
        return network
    visible = session.scalars(
        select(Network.id).where(Network.id == network_id, visible_clause(principal))
    ).one_or_none()
    if visible is None:
        raise NotFound(f"no network {network_id!r}")
    raise Forbidden("only the integration that maintains this network may change it")


def own_private_networks(session: Session, principal: Principal) -> frozenset[str]:
    """The private networks a caller may search by (its integration's)."""
    if principal.kind != "key" or not principal.integration:
        return frozenset()
    return frozenset(
        session.scalars(
            select(Network.id).where(
                Network.owner == principal.integration, Network.visibility == "private"
            )
        )
    )


def create_network(session: Session, principal: Principal, data: NetworkCreate) -> Network:
    network = Network(
        name=data.name, kind=data.kind, visibility=data.visibility, owner=principal.integration
    )
    session.add(network)
    session.flush()
    return network


def patch_network(
    session: Session,
    principal: Principal,
    network_id: str,
    data: NetworkPatch,
    if_match: str | None,
) -> Network:
    network = owned_network(session, principal, network_id)
    check_if_match(if_match, network.version)
    if isinstance(data.name, str) and data.name != network.name:
        network.name = data.name
    if isinstance(data.visibility, str) and data.visibility != network.visibility:
        network.visibility = data.visibility
    session.flush()
    return network


def replace_members(
    session: Session, principal: Principal, network_id: str, site_ids: list[str]
) -> tuple[Network, int, int, int]:
    """The network's members become exactly ``site_ids`` (idempotent: PUT the same list twice
    and nothing changes the second time). Unknown sites are refused, each with its pointer."""
    network = owned_network(session, principal, network_id)
    wanted = set(site_ids)
    known: set[str] = set()
    ordered = sorted(wanted)
    for i in range(0, len(ordered), 1000):
        chunk = ordered[i : i + 1000]
        known |= set(
            session.scalars(select(Site.id).where(Site.id.in_(chunk), Site.status != "closed"))
        )
    unknown = [(i, s) for i, s in enumerate(site_ids) if s not in known]
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} unknown or closed sites",
            errors=[FieldError(f"/sites/{i}", f"no open site {s!r}") for i, s in unknown[:100]],
        )
    current = set(
        session.scalars(select(Membership.site_id).where(Membership.network_id == network.id))
    )
    gone, new = current - wanted, wanted - current
    if gone:
        # Loaded, then deleted through the session, so the flush hook records each change.
        for member in session.scalars(
            select(Membership).where(
                Membership.network_id == network.id, Membership.site_id.in_(gone)
            )
        ):
            session.delete(member)
    session.add_all(Membership(network_id=network.id, site_id=s) for s in sorted(new))
    session.flush()
    return network, len(wanted), len(new), len(gone)


def members(
    session: Session, network_id: str, after: str | None, limit: int
) -> tuple[list[str], str | None]:
    stmt = select(Membership.site_id).where(Membership.network_id == network_id)
    if after:
        stmt = stmt.where(Membership.site_id > after)
    rows = list(session.scalars(stmt.order_by(Membership.site_id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1] if more and rows else None)


def networks_out(session: Session, rows: list[Network]) -> list[NetworkOut]:
    """Networks as published, their member counts read in one query."""
    counts = dict(
        session.execute(
            select(Membership.network_id, func.count())
            .where(Membership.network_id.in_([n.id for n in rows]))
            .group_by(Membership.network_id)
        ).all()
    )
    out = [msgspec.convert(n, NetworkOut, from_attributes=True) for n in rows]
    for network in out:
        network.members = counts.get(network.id, 0)
    return out


def network_out(session: Session, network: Network) -> NetworkOut:
    return networks_out(session, [network])[0]
