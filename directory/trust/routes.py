"""The v1 competence API: catalogue, issuers, attestations, declared claims, technicians."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from directory.audit import Actor, current_actor
from directory.db import check_if_match, get_or_404, utcnow
from directory.gate import access
from directory.gate.auth import require_scope, require_writer
from directory.http import QUERY_TEXT, Caller, Db, Deps, Id, IfMatch
from directory.models import Attestation, Claim, Issuer, Technician
from directory.trust import service as attestations
from directory.trust.schemas import (
    AttestationOut,
    ClaimIn,
    ClaimOut,
    IssuerCreate,
    IssuerOut,
    JobList,
    JobOut,
    SchemeNames,
    SchemeOut,
    TechnicianCreate,
    TechnicianOut,
    TechnicianPatch,
    TokenIn,
)

Jti = Annotated[str, PathParameter(max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")]
ADMIN = [require_scope("admin")]
ATTEST = [require_scope("attest")]


class Catalogue(msgspec.Struct):
    items: list[SchemeOut]


class IssuerList(msgspec.Struct):
    items: list[IssuerOut]


def issuer_out(issuer: Issuer) -> IssuerOut:
    return msgspec.convert(issuer, IssuerOut, from_attributes=True)


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
    return msgspec.convert(t, TechnicianOut, from_attributes=True)


@get("/v1/competences", tags=["competences"])
async def competences(
    app_services: Deps,
    domain: Annotated[str | None, QueryParameter(max_length=40, pattern=QUERY_TEXT)] = None,
    jurisdiction: Annotated[str | None, QueryParameter(max_length=2, pattern=QUERY_TEXT)] = None,
) -> Catalogue:
    """The catalogue of schemes, optionally by domain or jurisdiction (EU schemes count in
    every member state's answer only when asked for "EU")."""
    items = [
        s
        for s in app_services.catalogue.schemes.values()
        if (domain is None or s.domain == domain)
        and (jurisdiction is None or jurisdiction.upper() in s.jurisdictions)
    ]
    return Catalogue(items=[msgspec.convert(s, SchemeOut, from_attributes=True) for s in items])


@get("/v1/jobs", tags=["competences"])
async def jobs(app_services: Deps) -> JobList:
    """Repair jobs in plain words (an electric car's battery, a windscreen with a camera …), each
    with the competences any one of which does it: what a person picks when they do not know
    which scheme their car needs. Search with ``job=<id>``."""
    return JobList(
        items=[
            JobOut(
                id=j.id,
                domain=j.domain,
                name=SchemeNames(fr=j.name.fr, en=j.name.en),
                competences=list(j.any_of),
            )
            for j in app_services.jobs
        ]
    )


class IssuerController(Controller):
    path = "/v1/issuers"
    tags = ["issuers"]

    @get("/", sync_to_thread=True)
    def index(self, db: Db) -> IssuerList:
        rows = db.query(Issuer).order_by(Issuer.created_at).all()
        return IssuerList(items=[issuer_out(i) for i in rows])

    @get("/{issuer_id:str}", sync_to_thread=True)
    def read(self, db: Db, issuer_id: Id) -> IssuerOut:
        return issuer_out(attestations.get_issuer(db, issuer_id))

    @get(
        "/{issuer_id:str}/jwks.json",
        sync_to_thread=True,
        description="Every key of the issuer, retired ones included, so old tokens verify.",
    )
    def jwks(self, db: Db, issuer_id: Id) -> dict[str, Any]:
        issuer = attestations.get_issuer(db, issuer_id)
        return {"keys": [k.jwk for k in issuer.keys]}

    @post("/", guards=ADMIN, sync_to_thread=True, status_code=201)
    def create(self, db: Db, app_services: Deps, data: JSONBody[IssuerCreate]) -> IssuerOut:
        issuer = attestations.create_issuer(
            db,
            app_services.catalogue,
            name=data.name,
            kind=data.kind,
            schemes=data.schemes,
            jwks=data.jwks.keys,
        )
        return issuer_out(issuer)

    @post("/{issuer_id:str}/trust", guards=ADMIN, sync_to_thread=True, status_code=200)
    def trust(self, db: Db, issuer_id: Id) -> IssuerOut:
        return issuer_out(attestations.set_issuer_status(db, issuer_id, "trusted"))

    @post("/{issuer_id:str}/suspend", guards=ADMIN, sync_to_thread=True, status_code=200)
    def suspend(self, db: Db, issuer_id: Id) -> IssuerOut:
        return issuer_out(attestations.set_issuer_status(db, issuer_id, "suspended"))

    @post(
        "/{issuer_id:str}/keys",
        guards=ADMIN,
        sync_to_thread=True,
        status_code=200,
        description="Add a key and retire the others (they stay published).",
    )
    def add_key(self, db: Db, issuer_id: Id, data: JSONBody[dict[str, str]]) -> dict[str, Any]:
        issuer = attestations.add_issuer_key(db, issuer_id, data)
        return {"keys": [k.jwk for k in issuer.keys]}


def _act_as_issuer(caller: Caller, token: str) -> None:
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
        principal = caller
        current_actor.set(
            Actor(kind="issuer", id=f"{issuer}/{principal.label}"[:64], ip=principal.client)
        )


class AttestationController(Controller):
    path = "/v1/attestations"
    tags = ["attestations"]

    @post("/", guards=ATTEST, sync_to_thread=True, status_code=201)
    def submit(
        self, db: Db, app_services: Deps, caller: Caller, data: JSONBody[TokenIn]
    ) -> Response[AttestationOut]:
        _act_as_issuer(caller, data.token)
        out = attestation_out(
            attestations.submit_attestation(db, app_services.catalogue, data.token)
        )
        return Response(out, status_code=201, headers={"Location": f"/v1/attestations/{out.jti}"})

    @get("/{jti:str}", sync_to_thread=True)
    def read(self, db: Db, jti: Jti) -> AttestationOut:
        return attestation_out(attestations.get_attestation(db, jti))

    @post("/{jti:str}/revocation", guards=ATTEST, sync_to_thread=True, status_code=200)
    def revoke(self, db: Db, caller: Caller, jti: Jti, data: JSONBody[TokenIn]) -> AttestationOut:
        _act_as_issuer(caller, data.token)
        return attestation_out(attestations.revoke_attestation(db, jti, data.token))


def claim_out(claim: Claim) -> ClaimOut:
    return msgspec.convert(claim, ClaimOut, from_attributes=True)


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
        self,
        db: Db,
        app_services: Deps,
        caller: Caller,
        site_id: Id,
        data: JSONBody[ClaimIn],
    ) -> ClaimOut:
        access.site_for_write(db, caller, site_id)
        return claim_out(
            attestations.declare_claim(
                db, app_services.catalogue, site_id, data.scheme, data.evidence_url
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
        db: Db,
        caller: Caller,
        site_id: Id,
        data: JSONBody[TechnicianCreate],
    ) -> TechnicianOut:
        access.site_for_write(db, caller, site_id)
        tech = Technician(site_id=site_id, display_name=data.display_name)
        db.add(tech)
        db.flush()
        return technician_out(tech)


class TechnicianController(Controller):
    path = "/v1/technicians"
    tags = ["technicians"]

    @get("/{technician_id:str}", sync_to_thread=True)
    def read_technician(self, db: Db, technician_id: Id) -> TechnicianOut:
        tech = get_or_404(db, Technician, technician_id, "technician")
        return technician_out(tech)

    @patch(
        "/{technician_id:str}",
        guards=[require_writer],
        sync_to_thread=True,
        description="Rename, or move to another site (competences follow).",
    )
    def update_technician(
        self,
        db: Db,
        caller: Caller,
        technician_id: Id,
        data: JSONBody[TechnicianPatch],
        if_match: IfMatch = None,
    ) -> TechnicianOut:
        tech = access.technician_for_write(db, caller, technician_id)
        check_if_match(if_match, tech.version)
        if isinstance(data.site_id, str) and data.site_id != tech.site_id:
            # Moving someone needs the right to write both workshops.
            access.site_for_write(db, caller, data.site_id)
            tech.site_id = data.site_id
        if isinstance(data.display_name, str):
            tech.display_name = data.display_name
        db.flush()
        return technician_out(tech)


route_handlers: list[Any] = [
    competences,
    jobs,
    IssuerController,
    AttestationController,
    SiteTrustController,
    TechnicianController,
]
