"""Effective competences: what a site can be trusted to do at an instant."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

import msgspec

from certifications.catalogue import Catalogue

__all__ = ["Effective", "Holding", "effective_competences"]

Status = Literal["verified", "declared"]


class Holding(msgspec.Struct, frozen=True, kw_only=True):
    """One source of a competence: an attestation (verified) or a repairer's claim (declared)."""

    scheme: str
    status: Status
    holder_id: str  # the site itself, or a technician working there
    issuer: str | None = None
    source: str  # the attestation's jti, or the claim's id
    valid_from: datetime
    valid_until: datetime | None = None  # None: no end


class Effective(msgspec.Struct, frozen=True, kw_only=True):
    scheme: str
    status: Status
    valid_until: datetime | None
    issuer: str | None
    via: str  # the scheme actually held, when this one is implied by it
    source: str


def _rank(h: Holding) -> tuple[int, float]:
    # Verified beats declared; then the source that lasts longest.
    end = h.valid_until.timestamp() if h.valid_until else float("inf")
    return (1 if h.status == "verified" else 0, end)


def effective_competences(
    holdings: Iterable[Holding],
    catalogue: Catalogue,
    at: datetime,
    *,
    include_declared: bool = True,
) -> list[Effective]:
    """The schemes that hold at ``at``, closed under ``implies``, each from its best source.

    A person-scheme held by a technician of the site counts for the site. A competence ends at
    its source's ``valid_until`` exactly (an implied one ends with the scheme implying it).
    """
    best: dict[str, tuple[Holding, str]] = {}
    for h in holdings:
        if h.scheme not in catalogue or not (include_declared or h.status == "verified"):
            continue
        if not (h.valid_from <= at and (h.valid_until is None or at < h.valid_until)):
            continue
        for scheme in catalogue.implied_by(h.scheme):
            current = best.get(scheme)
            if current is None or _rank(h) > _rank(current[0]):
                best[scheme] = (h, h.scheme)
    return [
        Effective(
            scheme=scheme,
            status=h.status,
            valid_until=h.valid_until,
            issuer=h.issuer,
            via=via,
            source=h.source,
        )
        for scheme, (h, via) in sorted(best.items())
    ]
