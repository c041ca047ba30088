"""Issuers, attestations, claims and technicians through the API, and a site's competences."""

from __future__ import annotations

import time

from litestar.testing import TestClient
from sqlalchemy import select

from certifications import jws
from certifications.attestations import reverify
from directory.db import transaction
from directory.models import OutboxEvent
from directory.trust import service as trust
from tests.conftest import table_snapshot


def make_issuer(client: TestClient, admin: dict, schemes: list[str], kind="training-body"):  # type: ignore[no-untyped-def]
    key = jws.generate_jwk()
    reply = client.post(
        "/v1/issuers",
        headers=admin,
        json={
            "name": "Organisme de formation (test)",
            "kind": kind,
            "schemes": schemes,
            "jwks": {"keys": [jws.public_jwk(key)]},
        },
    )
    assert reply.status_code == 201, reply.text
    issuer = reply.json()
    assert issuer["status"] == "pending"
    assert client.post(f"/v1/issuers/{issuer['id']}/trust", headers=admin).json()["status"] == (
        "trusted"
    )
    return issuer["id"], key


def token(iss: str, sub: str, scheme: str, key: dict, *, days: float = 365, jti: str = "") -> str:
    now = int(time.time())
    start = now if days > 0 else now + int(days * 86400) * 2  # an expired one began earlier
    return jws.sign(
        {
            "iss": iss,
            "sub": sub,
            "scheme": scheme,
            "iat": start,
            "nbf": start,
            "exp": now + int(days * 86400),
            "jti": jti or f"att_{time.time_ns()}",
        },
        key,
    )


def technician(client: TestClient, admin: dict, site_id: str) -> str:
    reply = client.post(
        f"/v1/sites/{site_id}/technicians", json={"display_name": "Alex"}, headers=admin
    )
    assert reply.status_code == 201, reply.text
    return reply.json()["id"]  # type: ignore[no-any-return]


def competences(client: TestClient, site_id: str) -> dict[str, dict]:
    return {c["scheme"]: c for c in client.get(f"/v1/sites/{site_id}").json()["competences"]}


def test_a_technicians_habilitation_shows_on_the_sites_profile(
    client: TestClient, admin: dict, make_key, site: dict
) -> None:
    iss, key = make_issuer(client, admin, ["fr.nfc18550.b2vl"])
    tech = technician(client, admin, site["id"])
    attest = make_key("attest")
    reply = client.post(
        "/v1/attestations",
        json={"token": token(iss, tech, "fr.nfc18550.b2vl", key)},
        headers=attest,
    )
    assert reply.status_code == 201, reply.text
    stored = reply.json()
    held = competences(client, site["id"])
    assert held["fr.nfc18550.b2vl"]["status"] == "verified"
    assert held["fr.nfc18550.b2vl"]["issuer"] == iss
    assert held["fr.nfc18550.b2vl"]["valid_until"] == stored["valid_until"]
    assert held["fr.nfc18550.b1l"]["via"] == "fr.nfc18550.b2vl"
    # Anyone can fetch the token and verify it against the published keys.
    again = client.get(f"/v1/attestations/{stored['jti']}").json()
    jwks = client.get(f"/v1/issuers/{iss}/jwks.json").json()["keys"]
    assert reverify(again["token"], jwks).sub == tech


def test_a_refused_attestation_names_its_reason_and_stores_nothing(
    client: TestClient, admin: dict, make_key, site: dict, sessions
) -> None:
    iss, key = make_issuer(client, admin, ["eu.sermi.operator"], kind="certification-body")
    attest = make_key("attest")
    before = table_snapshot(sessions)
    cases = {
        "expired": token(iss, site["id"], "eu.sermi.operator", key, days=-1),
        "scheme-not-allowed": token(iss, site["id"], "adas.calibration.static", key),
        "unknown-subject": token(iss, "st_doesnotexist", "eu.sermi.operator", key),
        "unsupported-alg": "eyJhbGciOiJub25lIiwia2lkIjoieCJ9.eyJpc3MiOiJ4In0.",
    }
    for reason, bad in cases.items():
        reply = client.post("/v1/attestations", json={"token": bad}, headers=attest)
        assert reply.status_code == 422, reply.text
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert reply.json()["reason"] == reason
    after = table_snapshot(sessions)
    assert {k: v for k, v in after.items() if k != "api_key"} == {
        k: v for k, v in before.items() if k != "api_key"
    }
    assert client.post("/v1/attestations", json={"token": "x" * 20}).status_code == 401


def test_revocation_stops_the_competence_at_once(
    client: TestClient, admin: dict, make_key, site: dict
) -> None:
    iss, key = make_issuer(client, admin, ["eu.sermi.operator"], kind="certification-body")
    attest = make_key("attest")
    jti = client.post(
        "/v1/attestations",
        headers=attest,
        json={"token": token(iss, site["id"], "eu.sermi.operator", key)},
    ).json()["jti"]
    assert "eu.sermi.operator" in competences(client, site["id"])
    other_key = jws.generate_jwk()
    forged = jws.sign({"iss": iss, "revokes": jti, "iat": int(time.time())}, other_key)
    assert (
        client.post(
            f"/v1/attestations/{jti}/revocation", json={"token": forged}, headers=attest
        ).json()["reason"]
        == "unknown-key"
    )
    revocation = jws.sign({"iss": iss, "revokes": jti, "iat": int(time.time())}, key)
    reply = client.post(
        f"/v1/attestations/{jti}/revocation", json={"token": revocation}, headers=attest
    )
    assert reply.status_code == 200 and reply.json()["status"] == "revoked"
    assert "eu.sermi.operator" not in competences(client, site["id"])
    # Both are audited as the issuer's acts, with the key that brought them.
    trail = client.get("/v1/audit", params={"entity_id": jti}, headers=admin).json()["items"]
    assert [(e["action"], e["actor"]["kind"]) for e in trail] == [
        ("create", "issuer"),
        ("update", "issuer"),
    ]
    assert all(e["actor"]["id"].startswith(f"{iss}/") for e in trail)


def test_suspending_an_issuer_withdraws_its_attestations(
    client: TestClient, admin: dict, make_key, site: dict
) -> None:
    iss, key = make_issuer(client, admin, ["diag.multibrand"], kind="network")
    client.post(
        "/v1/attestations",
        headers=make_key("attest"),
        json={"token": token(iss, site["id"], "diag.multibrand", key)},
    )
    assert "diag.multibrand" in competences(client, site["id"])
    client.post(f"/v1/issuers/{iss}/suspend", headers=admin)
    assert "diag.multibrand" not in competences(client, site["id"])


def test_a_declared_competence_is_never_verified(
    client: TestClient, admin: dict, site: dict
) -> None:
    reply = client.post(
        f"/v1/sites/{site['id']}/claims",
        headers=admin,
        json={"scheme": "adas.calibration.static", "evidence_url": "https://example.org/cert.pdf"},
    )
    assert reply.status_code == 201 and reply.json()["status"] == "declared"
    assert competences(client, site["id"])["adas.calibration.static"]["status"] == "declared"
    bad = client.post(f"/v1/sites/{site['id']}/claims", headers=admin, json={"scheme": "made.up"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "/scheme"


def test_a_technician_who_moves_takes_the_competence_along(
    client: TestClient, admin: dict, make_key, organisation: dict, site: dict, sessions
) -> None:
    iss, key = make_issuer(client, admin, ["uk.imi.ev.level3"])
    tech = technician(client, admin, site["id"])
    client.post(
        "/v1/attestations",
        headers=make_key("attest"),
        json={"token": token(iss, tech, "uk.imi.ev.level3", key)},
    )
    other = client.post(
        f"/v1/organisations/{organisation['id']}/sites",
        headers=admin,
        json={"name": "Other", "address": {"city": "Lyon", "postcode": "69007", "country": "FR"}},
    ).json()
    moved = client.patch(
        f"/v1/technicians/{tech}",
        json={"site_id": other["id"]},
        headers={**admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert "uk.imi.ev.level3" not in competences(client, site["id"])
    assert competences(client, other["id"])["uk.imi.ev.level1"]["via"] == "uk.imi.ev.level3"
    with sessions() as s:
        events = {(e.entity, e.entity_id) for e in s.scalars(select(OutboxEvent))}
    assert ("site", site["id"]) in events and ("technician", tech) in events


def test_an_expiry_is_recorded_once_in_the_outbox(
    client: TestClient, admin: dict, make_key, site: dict, sessions
) -> None:
    iss, key = make_issuer(client, admin, ["eu.sermi.operator"], kind="certification-body")
    jti = client.post(
        "/v1/attestations",
        headers=make_key("attest"),
        json={"token": token(iss, site["id"], "eu.sermi.operator", key, days=0.5)},
    ).json()["jti"]
    from datetime import UTC, datetime, timedelta

    later = datetime.now(UTC) + timedelta(days=1)
    with transaction(sessions) as s:
        assert trust.sweep_expiries(s, later) == 1
    with transaction(sessions) as s:
        assert trust.sweep_expiries(s, later) == 0
    with sessions() as s:
        stmt = select(OutboxEvent).where(OutboxEvent.entity_id == jti).order_by(OutboxEvent.id)
        ops = [e.op for e in s.scalars(stmt)]
    assert ops == ["create", "expire"]


def test_the_catalogue_is_served_and_filtered(client: TestClient) -> None:
    items = client.get("/v1/competences", params={"domain": "security-rmi"}).json()["items"]
    assert {i["id"] for i in items} == {"eu.sermi.operator", "eu.sermi.employee"}
    fr = client.get("/v1/competences", params={"jurisdiction": "FR"}).json()["items"]
    assert all("FR" in i["jurisdictions"] for i in fr) and len(fr) >= 12
