"""The authorisation matrix: every write route of the application × every kind of caller ×
own and foreign ids. Only the entitled succeed; after every refusal the database is unchanged,
row for row (audit and outbox included).

The list of routes is read from the application itself and must equal the table below, so a
new write route cannot ship without being placed in the matrix."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient
from sqlalchemy.orm import Session, sessionmaker

from certifications import jws
from certifications.catalogue import default_catalogue
from directory.accounts import service as accounts
from directory.db import transaction, utcnow
from directory.gate import keys
from directory.models import (
    Account,
    AuthSession,
    ListingClaim,
    Network,
    Organisation,
    Role,
    Site,
    Technician,
)
from directory.trust import service as trust
from tests.conftest import SITE, table_snapshot

CALLERS = (
    "anonymous",
    "other_repairer",  # an account with no role in the target's organisation
    "editor",
    "owner",
    "owner_on_foreign_ids",  # the owner of one organisation aiming at another's objects
    "key_without_scope",
    "key_with_scope",  # the route's scope if it has one, else every non-admin scope
    "key_with_scope_foreign",  # the same scope, another integration's objects
    "admin",
)
ACCOUNTS = {"other_repairer", "editor", "owner", "owner_on_foreign_ids"}
PROFILE = {"editor", "owner", "admin"}  # who changes an organisation's profile and sites
SCHEME = "diag.multibrand"  # held by a site


class World:
    """Accounts, keys and an issuer made once; every request gets fresh targets."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self.jwk = jws.generate_jwk()
        with transaction(sessions) as s:
            self.anne = self._account(s, "anne@garage.fr")  # owner of family "A"
            self.ed = self._account(s, "ed@garage.fr")  # editor in family "A"
            self.mallory = self._account(s, "mallory@garage.fr")  # owner of family "M"
            self.issuer = trust.create_issuer(
                s,
                default_catalogue(),
                name="Organisme (test)",
                kind="training-body",
                schemes=[SCHEME],
                jwks=[jws.public_jwk(self.jwk)],
            ).id
            trust.set_issuer_status(s, self.issuer, "trusted")
            self.admin = keys.create_key(s, "admin", ["admin"])[1]
            self.without = keys.create_key(s, "x", ["changes"], integration="ins")[1]
        self.scoped: dict[tuple[str, str], str] = {}

    @staticmethod
    def _account(s: Session, email: str) -> str:
        account = Account(email=email, password_hash="unused", verified_at=utcnow())
        s.add(account)
        s.flush()
        return account.id

    def session_for(self, account_id: str) -> dict[str, str]:
        token = "ats_" + secrets.token_urlsafe(32)
        with transaction(self.sessions) as s:
            s.add(
                AuthSession(
                    token_hash=accounts.digest(token),
                    account_id=account_id,
                    expires_at=utcnow() + timedelta(hours=1),
                )
            )
        return {"Authorization": f"Bearer {token}"}

    def key(self, scope: str | None, integration: str) -> str:
        scopes = [scope] if scope else [s for s in keys.SCOPES if s != "admin"]
        if (str(scopes), integration) not in self.scoped:
            with transaction(self.sessions) as s:
                secret = keys.create_key(s, "k", scopes, integration=integration)[1]
            self.scoped[(str(scopes), integration)] = secret
        return self.scoped[(str(scopes), integration)]

    def headers(self, caller: str, scope: str | None) -> dict[str, str]:
        bearer = {
            "anonymous": None,
            "key_without_scope": self.without,
            "key_with_scope": self.key(scope, "ins"),
            "key_with_scope_foreign": self.key(scope, "rival"),
            "admin": self.admin,
        }
        if caller in ACCOUNTS:
            who = {"other_repairer": self.mallory, "editor": self.ed}.get(caller, self.anne)
            return self.session_for(who)
        token = bearer[caller]
        return {"Authorization": f"Bearer {token}"} if token else {}

    # --- fresh targets ---------------------------------------------------------------------------

    def family(self, caller: str) -> str:
        return "M" if caller == "owner_on_foreign_ids" else "A"

    def org(self, family: str) -> Organisation:
        with transaction(self.sessions) as s:
            org = Organisation(legal_name=f"Garage {family} SARL", kind="independent")
            s.add(org)
            s.flush()
            if family == "A":
                s.add(Role(organisation_id=org.id, account_id=self.anne, role="owner"))
                s.add(Role(organisation_id=org.id, account_id=self.ed, role="editor"))
            else:
                s.add(Role(organisation_id=org.id, account_id=self.mallory, role="owner"))
            return org

    def site(self, family: str) -> Site:
        org = self.org(family)
        with transaction(self.sessions) as s:
            site = Site(
                organisation_id=org.id,
                name="Garage",
                city="Lyon",
                country="FR",
                lat=45.76,
                lng=4.83,
                timezone="Europe/Paris",
            )
            s.add(site)
            s.flush()
            return site

    def technician(self, family: str) -> Technician:
        site = self.site(family)
        with transaction(self.sessions) as s:
            tech = Technician(site_id=site.id, display_name="Alex")
            s.add(tech)
            s.flush()
            return tech

    def network(self, integration: str = "ins") -> Network:
        with transaction(self.sessions) as s:
            network = Network(
                name="Agréés", kind="insurer", visibility="private", owner=integration
            )
            s.add(network)
            s.flush()
            return network

    def claim(self) -> ListingClaim:
        org = self.org("A")
        with transaction(self.sessions) as s:
            claim = ListingClaim(organisation_id=org.id, account_id=self.mallory)
            s.add(claim)
            s.flush()
            return claim

    def pending_issuer(self) -> str:
        with transaction(self.sessions) as s:
            return trust.create_issuer(
                s,
                default_catalogue(),
                name="Pending",
                kind="training-body",
                schemes=[SCHEME],
                jwks=[jws.public_jwk(jws.generate_jwk())],
            ).id

    def token(self, subject: str) -> str:
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": subject, "scheme": SCHEME, "iat": now, "nbf": now}
        claims |= {"exp": now + 86400, "jti": f"att_{time.time_ns()}"}
        return jws.sign(claims, self.jwk)

    def attestation(self) -> str:
        site = self.site("A")
        with transaction(self.sessions) as s:
            return trust.submit_attestation(s, default_catalogue(), self.token(site.id)).jti

    def revocation(self, jti: str) -> str:
        return jws.sign({"iss": self.issuer, "revokes": jti, "iat": int(time.time())}, self.jwk)


def etag(version: int) -> dict[str, str]:
    return {"If-Match": f'"{version}"'}


# A request builder: (world, caller) -> (path, json body or None, extra headers).
Build = Callable[[World, str], tuple[str, Any, dict[str, str]]]


class Row(msgspec.Struct):
    entitled: frozenset[str]
    build: Build
    scope: str | None = None


def _site_patch(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    site = w.site(w.family(c))
    return f"/v1/sites/{site.id}", {"name": "Renamed"}, etag(site.version)


def _site_close(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    site = w.site(w.family(c))
    return f"/v1/sites/{site.id}", None, etag(site.version)


def _org_patch(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    org = w.org(w.family(c))
    return f"/v1/organisations/{org.id}", {"trade_name": "Renamed"}, etag(org.version)


def _org_close(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    org = w.org(w.family(c))
    return f"/v1/organisations/{org.id}", None, etag(org.version)


def _tech_patch(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    tech = w.technician(w.family(c))
    return f"/v1/technicians/{tech.id}", {"display_name": "Sam"}, etag(tech.version)


# Network rows: every caller aims at a network of the "ins" integration, so the key with the
# scope but of another integration ("rival") is the foreign-ids case.
def _network_patch(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    network = w.network("ins")
    return f"/v1/networks/{network.id}", {"name": "Renamed"}, etag(network.version)


def _network_members(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    network = w.network("ins")
    return f"/v1/networks/{network.id}/members", {"sites": [w.site("A").id]}, {}


def _member_remove(w: World, c: str) -> tuple[str, Any, dict[str, str]]:
    org = w.org(w.family(c))
    who = w.ed if w.family(c) == "A" else w.mallory  # foreign: the last owner (never removable)
    return f"/v1/organisations/{org.id}/members/{who}", None, {}


ADMIN_ONLY = frozenset({"admin"})
NETWORK = frozenset({"key_with_scope", "admin"})

MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/v1/organisations"): Row(
        frozenset(ACCOUNTS | {"admin"}),
        lambda w, c: ("/v1/organisations", {"legal_name": "New SARL", "kind": "independent"}, {}),
    ),
    ("PATCH", "/v1/organisations/{organisation_id:str}"): Row(frozenset(PROFILE), _org_patch),
    ("DELETE", "/v1/organisations/{organisation_id:str}"): Row(
        frozenset({"owner", "admin"}), _org_close
    ),
    ("POST", "/v1/organisations/{organisation_id:str}/sites"): Row(
        frozenset(PROFILE),
        lambda w, c: (f"/v1/organisations/{w.org(w.family(c)).id}/sites", SITE, {}),
    ),
    ("PATCH", "/v1/sites/{site_id:str}"): Row(frozenset(PROFILE), _site_patch),
    ("DELETE", "/v1/sites/{site_id:str}"): Row(frozenset(PROFILE), _site_close),
    ("POST", "/v1/sites/{site_id:str}/claims"): Row(
        frozenset(PROFILE),
        lambda w, c: (f"/v1/sites/{w.site(w.family(c)).id}/claims", {"scheme": SCHEME}, {}),
    ),
    ("POST", "/v1/sites/{site_id:str}/technicians"): Row(
        frozenset(PROFILE),
        lambda w, c: (
            f"/v1/sites/{w.site(w.family(c)).id}/technicians",
            {"display_name": "Alex"},
            {},
        ),
    ),
    ("PATCH", "/v1/technicians/{technician_id:str}"): Row(frozenset(PROFILE), _tech_patch),
    ("POST", "/v1/organisations/{organisation_id:str}/members"): Row(
        frozenset({"owner", "admin"}),
        lambda w, c: (
            f"/v1/organisations/{w.org(w.family(c)).id}/members",
            {"email": f"new{time.time_ns()}@garage.fr", "role": "editor"},
            {},
        ),
    ),
    ("DELETE", "/v1/organisations/{organisation_id:str}/members/{account_id:str}"): Row(
        frozenset({"owner", "admin"}), _member_remove
    ),
    # Members of the organisation already hold it (409); keys are not repairers (403).
    ("POST", "/v1/organisations/{organisation_id:str}/claim"): Row(
        frozenset({"other_repairer", "owner_on_foreign_ids"}),
        lambda w, c: (f"/v1/organisations/{w.org(w.family(c)).id}/claim", {}, {}),
    ),
    ("POST", "/v1/listing-claims/{claim_id:str}/approve"): Row(
        ADMIN_ONLY, lambda w, c: (f"/v1/listing-claims/{w.claim().id}/approve", {}, {})
    ),
    ("POST", "/v1/listing-claims/{claim_id:str}/reject"): Row(
        ADMIN_ONLY, lambda w, c: (f"/v1/listing-claims/{w.claim().id}/reject", {}, {})
    ),
    ("POST", "/v1/issuers"): Row(
        ADMIN_ONLY,
        lambda w, c: (
            "/v1/issuers",
            {
                "name": "New body",
                "kind": "training-body",
                "schemes": [SCHEME],
                "jwks": {"keys": [jws.public_jwk(jws.generate_jwk())]},
            },
            {},
        ),
    ),
    ("POST", "/v1/issuers/{issuer_id:str}/trust"): Row(
        ADMIN_ONLY, lambda w, c: (f"/v1/issuers/{w.pending_issuer()}/trust", None, {})
    ),
    ("POST", "/v1/issuers/{issuer_id:str}/suspend"): Row(
        ADMIN_ONLY, lambda w, c: (f"/v1/issuers/{w.pending_issuer()}/suspend", None, {})
    ),
    ("POST", "/v1/issuers/{issuer_id:str}/keys"): Row(
        ADMIN_ONLY,
        lambda w, c: (
            f"/v1/issuers/{w.pending_issuer()}/keys",
            jws.public_jwk(jws.generate_jwk()),
            {},
        ),
    ),
    ("POST", "/v1/attestations"): Row(
        frozenset({"key_with_scope", "key_with_scope_foreign", "admin"}),
        lambda w, c: ("/v1/attestations", {"token": w.token(w.site("A").id)}, {}),
        scope="attest",
    ),
    ("POST", "/v1/attestations/{jti:str}/revocation"): Row(
        frozenset({"key_with_scope", "key_with_scope_foreign", "admin"}),
        lambda w, c: (
            (jti := w.attestation()) and f"/v1/attestations/{jti}/revocation",
            {"token": w.revocation(jti)},
            {},
        ),
        scope="attest",
    ),
    ("POST", "/v1/networks"): Row(
        frozenset({"key_with_scope", "key_with_scope_foreign", "admin"}),
        lambda w, c: ("/v1/networks", {"name": "Agréés", "kind": "insurer"}, {}),
        scope="networks:write",
    ),
    ("PATCH", "/v1/networks/{network_id:str}"): Row(
        NETWORK, _network_patch, scope="networks:write"
    ),
    ("PUT", "/v1/networks/{network_id:str}/members"): Row(
        NETWORK, _network_members, scope="networks:write"
    ),
    ("POST", "/v1/search/batch"): Row(
        frozenset({"key_with_scope", "key_with_scope_foreign", "admin"}),
        lambda w, c: ("/v1/search/batch", {"queries": [{"lat": 45.76, "lng": 4.83}]}, {}),
        scope="search:batch",
    ),
    ("POST", "/v1/repair-intents/batch"): Row(
        frozenset({"key_with_scope", "key_with_scope_foreign", "admin"}),
        lambda w, c: (
            "/v1/repair-intents/batch",
            {"intents": [{"codes": ["P0AA6"], "lat": 45.76, "lng": 4.83}]},
            {},
        ),
        scope="search:batch",
    ),
    ("POST", "/v1/auth/logout"): Row(
        frozenset(ACCOUNTS), lambda w, c: ("/v1/auth/logout", None, {})
    ),
}
# They authenticate rather than being authorised: open to anyone by design, rate-limited per
# address, and tested with their own rules in test_accounts.py.
PUBLIC = {("POST", "/v1/auth/signup"), ("POST", "/v1/auth/verify"), ("POST", "/v1/auth/login")}
# A search whose question is a body: open to anyone like GET /v1/search, and writes nothing
# (tests/intents).
PUBLIC |= {("POST", "/v1/repair-intents")}


def write_routes(client: TestClient) -> set[tuple[str, str]]:
    app = client.app
    return {
        (method, route.path)
        for route in app.routes
        for method in getattr(route, "methods", set())
        if method in {"POST", "PUT", "PATCH", "DELETE"}
    }


def test_every_write_route_is_in_the_matrix(client: TestClient) -> None:
    assert write_routes(client) == set(MATRIX) | PUBLIC


@pytest.mark.parametrize("route", sorted(MATRIX), ids=lambda r: f"{r[0]} {r[1]}")
def test_only_the_entitled_succeed_and_refusals_change_nothing(
    client: TestClient, sessions: sessionmaker[Session], route: tuple[str, str]
) -> None:
    world = World(sessions)
    method, _ = route
    row = MATRIX[route]
    outcomes: dict[str, int] = {}
    for caller in CALLERS:
        path, body, extra = row.build(world, caller)
        headers = {**world.headers(caller, row.scope), **extra}
        before = table_snapshot(sessions)
        reply = client.request(method, path, json=body, headers=headers)
        outcomes[caller] = reply.status_code
        if caller in row.entitled:
            assert 200 <= reply.status_code < 300, (caller, reply.text)
        else:
            assert reply.status_code in (401, 403, 404, 409), (caller, reply.text)
            assert reply.headers["content-type"].startswith("application/problem+json")
            assert table_snapshot(sessions) == before, caller
    # Anonymous callers are told to authenticate; authenticated ones that are refused are not.
    assert outcomes["anonymous"] == 401
