"""Issuers, attestations, declared claims and the competences they give a site (the record side).

Signatures, trust rules and the effective set are ``certifications``'; this module loads and
stores, and answers for replay and revocation, which only the record knows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from certifications import jws
from certifications.attestations import (
    IssuerKey as KeyView,
)
from certifications.attestations import (
    IssuerView,
    Refused,
    verify_attestation,
    verify_revocation,
)
from certifications.catalogue import ISSUER_KINDS, Catalogue
from certifications.competences import Effective, Holding, effective_competences
from directory.db import get_or_404, utcnow
from directory.errors import Conflict, DomainError, FieldError, InvalidInput, NotFound
from directory.models import Attestation, Claim, Issuer, IssuerKey, Site, Technician
from directory.profiles.schemas import CompetenceOut
from directory.profiles.validation import check_url

__all__ = [
    "AttestationRefused",
    "add_issuer_key",
    "competence_out",
    "competences_for",
    "create_issuer",
    "declare_claim",
    "get_attestation",
    "get_issuer",
    "issuer_view",
    "revoke_attestation",
    "set_issuer_status",
    "submit_attestation",
    "sweep_expiries",
]


class AttestationRefused(DomainError):
    status, title, slug = 422, "Attestation refused", "attestation-refused"


class Replayed(DomainError):
    status, title, slug = 409, "Attestation already submitted", "attestation-replayed"


def _refused(err: Refused) -> AttestationRefused:
    return AttestationRefused(err.detail, reason=err.code)


# --- issuers --------------------------------------------------------------------------------------


def issuer_view(issuer: Issuer) -> IssuerView:
    return IssuerView(
        id=issuer.id,
        kind=issuer.kind,
        status=issuer.status,  # type: ignore[arg-type]
        schemes=tuple(issuer.schemes),
        keys=tuple(KeyView(kid=k.kid, jwk=k.jwk, retired_at=k.retired_at) for k in issuer.keys),
    )


def _public_keys(jwks: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    keys, errors = [], []
    for i, jwk in enumerate(jwks):
        try:
            keys.append(jws.public_jwk(jwk))
        except jws.JWSError as err:
            errors.append(FieldError(f"/jwks/keys/{i}", err.detail))
        if "d" in jwk:
            errors.append(FieldError(f"/jwks/keys/{i}/d", "send the public key only: never 'd'"))
    kids = [k["kid"] for k in keys]
    if len(set(kids)) != len(kids):
        errors.append(FieldError("/jwks/keys", "kids must be unique"))
    if errors:
        raise InvalidInput("invalid keys", errors=errors)
    return keys


def create_issuer(
    session: Session,
    catalogue: Catalogue,
    *,
    name: str,
    kind: str,
    schemes: list[str],
    jwks: list[dict[str, Any]],
) -> Issuer:
    errors = [
        FieldError(f"/schemes/{i}", f"{s!r} is not in the catalogue")
        for i, s in enumerate(schemes)
        if s not in catalogue
    ]
    if kind not in ISSUER_KINDS:
        errors.append(FieldError("/kind", f"must be one of {', '.join(ISSUER_KINDS)}"))
    errors += [
        FieldError(f"/schemes/{i}", f"a {kind} may not attest {s}")
        for i, s in enumerate(schemes)
        if s in catalogue and kind not in catalogue.schemes[s].issuer_kinds
    ]
    if not jwks:
        errors.append(FieldError("/jwks/keys", "at least one key"))
    if errors:
        raise InvalidInput("invalid issuer", errors=errors)
    issuer = Issuer(
        name=name,
        kind=kind,
        schemes=sorted(set(schemes)),
        status="pending",
        keys=[IssuerKey(kid=k["kid"], jwk=k) for k in _public_keys(jwks)],
    )
    session.add(issuer)
    session.flush()
    return issuer


def get_issuer(session: Session, issuer_id: str) -> Issuer:
    return get_or_404(session, Issuer, issuer_id, "issuer")


def set_issuer_status(session: Session, issuer_id: str, status: str) -> Issuer:
    """Trust or suspend; a suspended issuer's attestations stop counting at once."""
    issuer = get_issuer(session, issuer_id)
    issuer.status = status
    session.flush()
    return issuer


def add_issuer_key(
    session: Session, issuer_id: str, jwk: dict[str, Any], *, retire_others: bool = True
) -> Issuer:
    """Rotation: the new key signs from now on; the old ones stay published, retired."""
    issuer = get_issuer(session, issuer_id)
    (key,) = _public_keys([jwk])
    if any(k.kid == key["kid"] for k in issuer.keys):
        raise Conflict(f"issuer {issuer_id} already has a key {key['kid']!r}")
    now = utcnow()
    if retire_others:
        for old in issuer.keys:
            old.retired_at = old.retired_at or now
    issuer.keys.append(IssuerKey(kid=key["kid"], jwk=key))
    issuer.updated_at = now  # the published key set changed
    session.flush()
    return issuer


def _lookup(session: Session) -> Callable[[str], IssuerView | None]:
    def find(issuer_id: str) -> IssuerView | None:
        issuer = session.get(Issuer, issuer_id)
        return issuer_view(issuer) if issuer is not None else None

    return find


# --- attestations ---------------------------------------------------------------------------------


def submit_attestation(
    session: Session, catalogue: Catalogue, token: str, now: datetime | None = None
) -> Attestation:
    """Verify and store; every refusal names its reason and stores nothing."""
    now = now or utcnow()
    try:
        verified = verify_attestation(token, _lookup(session), catalogue, now)
    except Refused as err:
        raise _refused(err) from err
    claims = verified.claims
    if verified.holder == "site":
        subject = session.get(Site, claims.sub)
    else:
        subject = session.get(Technician, claims.sub)  # type: ignore[assignment]
    if subject is None:
        raise AttestationRefused(
            f"no {verified.holder} {claims.sub!r} in the directory", reason="unknown-subject"
        )
    if session.get(Attestation, claims.jti) is not None:
        raise Replayed(
            f"an attestation with jti {claims.jti!r} was already submitted", reason="replayed"
        )
    att = Attestation(
        jti=claims.jti,
        issuer_id=claims.iss,
        subject_id=claims.sub,
        holder=verified.holder,
        scheme=claims.scheme,
        kid=verified.kid,
        issued_at=datetime.fromtimestamp(claims.iat, UTC),
        valid_from=datetime.fromtimestamp(claims.nbf, UTC),
        valid_until=datetime.fromtimestamp(claims.exp, UTC),
        evidence=claims.evidence,
        token=token,
    )
    session.add(att)
    session.flush()
    return att


def get_attestation(session: Session, jti: str) -> Attestation:
    return get_or_404(session, Attestation, jti, "attestation")


def revoke_attestation(
    session: Session, jti: str, token: str, now: datetime | None = None
) -> Attestation:
    now = now or utcnow()
    att = get_attestation(session, jti)
    try:
        claims = verify_revocation(token, _lookup(session), now)
    except Refused as err:
        raise _refused(err) from err
    if claims.revokes != jti:
        raise AttestationRefused(
            f"this revocation names {claims.revokes!r}, not {jti!r}", reason="wrong-target"
        )
    if claims.iss != att.issuer_id:
        raise AttestationRefused(
            "only the issuer of an attestation may revoke it", reason="wrong-issuer"
        )
    if att.revoked_at is None:
        att.revoked_at = now
        att.revocation_token = token
        session.flush()
    return att


def sweep_expiries(session: Session, now: datetime | None = None) -> int:
    """Record, once each, the attestations that ended by ``now`` (an outbox 'expire' event)."""
    now = now or utcnow()
    due = session.scalars(
        select(Attestation)
        .where(
            Attestation.valid_until <= now,
            Attestation.expiry_recorded_at.is_(None),
            Attestation.revoked_at.is_(None),
        )
        .limit(5000)
    ).all()
    for att in due:
        att.expiry_recorded_at = now
    session.flush()
    return len(due)


# --- claims ---------------------------------------------------------------------------------------


def declare_claim(
    session: Session, catalogue: Catalogue, site_id: str, scheme: str, evidence_url: str | None
) -> Claim:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    errors = check_url(evidence_url, "/evidence_url")
    if scheme not in catalogue:
        errors.append(FieldError("/scheme", f"{scheme!r} is not in the catalogue"))
    if errors:
        raise InvalidInput("invalid claim", errors=errors)
    claim = Claim(site_id=site_id, scheme=scheme, evidence_url=evidence_url)
    session.add(claim)
    session.flush()
    return claim


# --- effective competences ------------------------------------------------------------------------


def holdings_for(session: Session, site_ids: list[str]) -> dict[str, list[Holding]]:
    """Every live source of competence of these sites: their own attestations, their
    technicians', and their declared claims. Revoked ones and suspended issuers' do not count."""
    out: dict[str, list[Holding]] = defaultdict(list)
    if not site_ids:
        return out
    techs: dict[str, str] = {
        tid: sid
        for tid, sid in session.execute(
            select(Technician.id, Technician.site_id).where(Technician.site_id.in_(site_ids))
        )
    }
    subjects = list(site_ids) + list(techs)
    # Columns, not Attestation objects: the token (the whole JWS) is not needed here, and
    # building ORM objects was most of a rebuild's time (bench/lag_bench.py).
    rows = session.execute(
        select(
            Attestation.subject_id,
            Attestation.holder,
            Attestation.scheme,
            Attestation.issuer_id,
            Attestation.jti,
            Attestation.valid_from,
            Attestation.valid_until,
        )
        .join(Issuer, Issuer.id == Attestation.issuer_id)
        .where(
            Attestation.subject_id.in_(subjects),
            Attestation.revoked_at.is_(None),
            Issuer.status == "trusted",
        )
    )
    for subject, holder, scheme, issuer, jti, valid_from, valid_until in rows:
        site_id = subject if holder == "site" else techs[subject]
        out[site_id].append(
            Holding(
                scheme=scheme,
                status="verified",
                holder_id=subject,
                issuer=issuer,
                source=jti,
                valid_from=valid_from,
                valid_until=valid_until,
            )
        )
    for claim in session.scalars(
        select(Claim).where(Claim.site_id.in_(site_ids), Claim.withdrawn_at.is_(None))
    ):
        out[claim.site_id].append(
            Holding(
                scheme=claim.scheme,
                status="declared",
                holder_id=claim.site_id,
                source=claim.id,
                valid_from=claim.created_at,
            )
        )
    return out


def competences_for(
    session: Session, catalogue: Catalogue, site_ids: list[str], at: datetime | None = None
) -> dict[str, list[CompetenceOut]]:
    at = at or utcnow()
    holdings = holdings_for(session, site_ids)
    return {
        sid: [
            competence_out(e, catalogue)
            for e in effective_competences(holdings.get(sid, []), catalogue, at)
        ]
        for sid in site_ids
    }


def competence_out(e: Effective, catalogue: Catalogue) -> CompetenceOut:
    return CompetenceOut(
        scheme=e.scheme,
        name=catalogue.schemes[e.scheme].name.en,
        status=e.status,
        valid_until=e.valid_until,
        issuer=e.issuer,
        via=e.via if e.via != e.scheme else None,
    )
