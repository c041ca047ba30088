"""The v1 competence API: catalogue, issuers, attestations, declared claims, technicians."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from certifications.catalogue import Scheme
from directory import access, attestations, profiles
from directory.audit import Actor, current_actor
from directory.auth import principal_of, require_scope, require_writer
from directory.db import get_or_404, transaction, utcnow
from directory.models import Attestation, Claim, Issuer, Technician
from directory.routes import IfMatch
from directory.schemas import (
    AttestationOut,
    ClaimIn,
    ClaimOut,
    IssuerCreate,
    IssuerOut,
    TechnicianCreate,
    TechnicianOut,
    TechnicianPatch,
    TokenIn,
)

Id = Annotated[str, PathParameter(max_length=40)]
Jti = Annotated[str, PathParameter(max_length=128)]
ADMIN = [require_scope("admin")]
ATTEST = [require_scope("attest")]


class Catalogue(msgspec.Struct):
    items: list[Scheme]


class IssuerList(msgspec.Struct):
    items: list[IssuerOut]


def issuer_out(issuer: Issuer) -> IssuerOut:
    return IssuerOut(
        id=issuer.id,
        name=issuer.name,
        kind=issuer.kind,
        status=issuer.status,
        schemes=issuer.schemes,
        jwks_url=f"/v1/issuers/{issuer.id}/jwks.json",
        created_at=issuer.created_at,
        updated_at=issuer.updated_at,
    )


def attestation_out(att: Attestation) -> AttestationOut:
    now = utcnow()
    status = (
        "revoked"
        if att.revoked_at
        else "expired"
        if att.valid_until <= now
        else "not-yet-valid"
        if att.valid_from > now
        else "valid"
    )
    return AttestationOut(
        jti=att.jti,
        issuer=att.issuer_id,
        subject=att.subject_id,
        holder=att.holder,
        scheme=att.scheme,
        issued_at=att.issued_at,
        valid_from=att.valid_from,
        valid_until=att.valid_until,
        evidence=att.evidence,
        status=status,
        revoked_at=att.revoked_at,
        token=att.token,
        revocation_token=att.revocation_token,
    )


def technician_out(t: Technician) -> TechnicianOut:
    return TechnicianOut(
        id=t.id,
        site_id=t.site_id,
        display_name=t.display_name,
        created_at=t.created_at,
        updated_at=t.updated_at,
        version=t.version,
    )


@get("/v1/competences", tags=["competences"])
async def competences(
    state: State,
    domain: Annotated[str | None, QueryParameter(max_length=40)] = None,
    jurisdiction: Annotated[str | None, QueryParameter(max_length=2)] = None,
) -> Catalogue:
    """The catalogue of schemes, optionally by domain or jurisdiction (EU schemes count in
    every member state's answer only when asked for "EU")."""
    items = [
        s
        for s in state.catalogue.schemes.values()
        if (domain is None or s.domain == domain)
        and (jurisdiction is None or jurisdiction.upper() in s.jurisdictions)
    ]
    return Catalogue(items=items)


class IssuerController(Controller):
    path = "/v1/issuers"
    tags = ["issuers"]

    @get("/", sync_to_thread=True)
    def index(self, state: State) -> IssuerList:
        with transaction(state.sessions) as session:
            rows = session.query(Issuer).order_by(Issuer.created_at).all()
            return IssuerList(items=[issuer_out(i) for i in rows])

    @get("/{issuer_id:str}", sync_to_thread=True)
    def read(self, state: State, issuer_id: Id) -> IssuerOut:
        with transaction(state.sessions) as session:
            return issuer_out(attestations.get_issuer(session, issuer_id))

    @get(
        "/{issuer_id:str}/jwks.json",
        sync_to_thread=True,
        description="Every key of the issuer, retired ones included, so old tokens verify.",
    )
    def jwks(self, state: State, issuer_id: Id) -> dict[str, Any]:
        with transaction(state.sessions) as session:
            issuer = attestations.get_issuer(session, issuer_id)
            return {"keys": [k.jwk for k in issuer.keys]}

    @post("/", guards=ADMIN, sync_to_thread=True, status_code=201)
    def create(self, state: State, data: JSONBody[IssuerCreate]) -> IssuerOut:
        with transaction(state.sessions) as session:
            issuer = attestations.create_issuer(
                session,
                state.catalogue,
                name=data.name,
                kind=data.kind,
                schemes=data.schemes,
                jwks=data.jwks.keys,
            )
            return issuer_out(issuer)

    @post("/{issuer_id:str}/trust", guards=ADMIN, sync_to_thread=True, status_code=200)
    def trust(self, state: State, issuer_id: Id) -> IssuerOut:
        with transaction(state.sessions) as session:
            return issuer_out(attestations.set_issuer_status(session, issuer_id, "trusted"))

    @post("/{issuer_id:str}/suspend", guards=ADMIN, sync_to_thread=True, status_code=200)
    def suspend(self, state: State, issuer_id: Id) -> IssuerOut:
        with transaction(state.sessions) as session:
            return issuer_out(attestations.set_issuer_status(session, issuer_id, "suspended"))

    @post(
        "/{issuer_id:str}/keys",
        guards=ADMIN,
        sync_to_thread=True,
        status_code=200,
        description="Add a key and retire the others (they stay published).",
    )
    def add_key(
        self, state: State, issuer_id: Id, data: JSONBody[dict[str, str]]
    ) -> dict[str, Any]:
        with transaction(state.sessions) as session:
            issuer = attestations.add_issuer_key(session, issuer_id, data)
            return {"keys": [k.jwk for k in issuer.keys]}


def _act_as_issuer(request: Request[Any, Any, Any], token: str) -> None:
    """Attestations are audited as their issuer's acts (with the key that brought them). The
    issuer is read from the token before it is verified, which is safe: a token that fails
    verification writes nothing, so no audit row can name an issuer that did not sign."""
    try:
        payload = token.split(".")[1]
        claims = msgspec.json.decode(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer = claims["iss"] if isinstance(claims, dict) else None
    except (IndexError, KeyError, ValueError, msgspec.DecodeError):
        return  # malformed: verification will refuse it
    if isinstance(issuer, str) and len(issuer) <= 40:
        principal = principal_of(request)
        current_actor.set(
            Actor(kind="issuer", id=f"{issuer}/{principal.label}"[:64], ip=principal.client)
        )


class AttestationController(Controller):
    path = "/v1/attestations"
    tags = ["attestations"]

    @post("/", guards=ATTEST, sync_to_thread=True, status_code=201)
    def submit(
        self, request: Request[Any, Any, Any], state: State, data: JSONBody[TokenIn]
    ) -> Response[AttestationOut]:
        _act_as_issuer(request, data.token)
        with transaction(state.sessions) as session:
            out = attestation_out(
                attestations.submit_attestation(session, state.catalogue, data.token)
            )
        return Response(out, status_code=201, headers={"Location": f"/v1/attestations/{out.jti}"})

    @get("/{jti:str}", sync_to_thread=True)
    def read(self, state: State, jti: Jti) -> AttestationOut:
        with transaction(state.sessions) as session:
            return attestation_out(attestations.get_attestation(session, jti))

    @post("/{jti:str}/revocation", guards=ATTEST, sync_to_thread=True, status_code=200)
    def revoke(
        self, request: Request[Any, Any, Any], state: State, jti: Jti, data: JSONBody[TokenIn]
    ) -> AttestationOut:
        _act_as_issuer(request, data.token)
        with transaction(state.sessions) as session:
            return attestation_out(attestations.revoke_attestation(session, jti, data.token))


def claim_out(claim: Claim) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        site_id=claim.site_id,
        scheme=claim.scheme,
        status="declared",
        evidence_url=claim.evidence_url,
        created_at=claim.created_at,
    )


class SiteTrustController(Controller):
    """Declared competences and technicians of a site (beside SiteController). Handlers live
    on controllers so that each application gets its own copies (see docs/decisions.md)."""

    path = "/v1/sites"
    tags = ["sites"]

    @post(
        "/{site_id:str}/claims",
        guards=[require_writer],
        sync_to_thread=True,
        status_code=201,
        description="Declare a competence without an issuer: it shows as declared.",
    )
    def declare(
        self, request: Request[Any, Any, Any], state: State, site_id: Id, data: JSONBody[ClaimIn]
    ) -> ClaimOut:
        with transaction(state.sessions) as session:
            access.site_for_write(session, principal_of(request), site_id)
            return claim_out(
                attestations.declare_claim(
                    session, state.catalogue, site_id, data.scheme, data.evidence_url
                )
            )

    @post(
        "/{site_id:str}/technicians",
        guards=[require_writer],
        sync_to_thread=True,
        status_code=201,
    )
    def add_technician(
        self,
        request: Request[Any, Any, Any],
        state: State,
        site_id: Id,
        data: JSONBody[TechnicianCreate],
    ) -> TechnicianOut:
        with transaction(state.sessions) as session:
            access.site_for_write(session, principal_of(request), site_id)
            tech = Technician(site_id=site_id, display_name=data.display_name)
            session.add(tech)
            session.flush()
            return technician_out(tech)


class TechnicianController(Controller):
    path = "/v1/technicians"
    tags = ["technicians"]

    @get("/{technician_id:str}", sync_to_thread=True)
    def read_technician(self, state: State, technician_id: Id) -> TechnicianOut:
        with transaction(state.sessions) as session:
            tech = get_or_404(session, Technician, technician_id, "technician")
            return technician_out(tech)

    @patch(
        "/{technician_id:str}",
        guards=[require_writer],
        sync_to_thread=True,
        description="Rename, or move to another site (competences follow).",
    )
    def update_technician(
        self,
        request: Request[Any, Any, Any],
        state: State,
        technician_id: Id,
        data: JSONBody[TechnicianPatch],
        if_match: IfMatch = None,
    ) -> TechnicianOut:
        principal = principal_of(request)
        with transaction(state.sessions) as session:
            tech = access.technician_for_write(session, principal, technician_id)
            profiles.check_if_match(if_match, tech.version)
            if isinstance(data.site_id, str) and data.site_id != tech.site_id:
                # Moving someone needs the right to write both workshops.
                access.site_for_write(session, principal, data.site_id)
                tech.site_id = data.site_id
            if isinstance(data.display_name, str):
                tech.display_name = data.display_name
            session.flush()
            return technician_out(tech)


route_handlers: list[Any] = [
    competences,
    IssuerController,
    AttestationController,
    SiteTrustController,
    TechnicianController,
]
