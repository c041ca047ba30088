"""POST /v1/repair-intents and its batch, through the application, on both backends."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from certifications.vin import check_digit
from directory.db import transaction
from directory.models import Technician
from tests.conftest import drain
from tests.searching.test_search import LYON, _attest, _issuer, add_site


def _vin(body: str) -> str:
    """A VIN with its check digit right (Renault's WMI: the digit is not required there)."""
    return body[:8] + check_digit(body) + body[9:]


@pytest.fixture()
def lyon(sessions, index, gazetteer):  # type: ignore[no-untyped-def]
    """Near Lyon: a Renault workshop with a B2VL technician, a plain one, one attested for
    SERMI, and a high-voltage workshop 60 km away."""
    hv = add_site(sessions, gazetteer, "Volt Lyon", LYON[0] + 0.01, LYON[1], brands=["renault"])
    plain = add_site(sessions, gazetteer, "Garage Plain", LYON[0], LYON[1], brands=["all"])
    keys = add_site(sessions, gazetteer, "Clés Lyon", LYON[0] + 0.02, LYON[1], brands=["all"])
    far = add_site(sessions, gazetteer, "Volt Loin", LYON[0] + 0.55, LYON[1], brands=["all"])
    b2vl, b2vl_key = _issuer(sessions, "fr.nfc18550.b2vl")
    diag, diag_key = _issuer(sessions, "diag.multibrand", kind="certification-body")
    sermi, sermi_key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    with transaction(sessions) as s:
        techs = [Technician(site_id=site, display_name="Tech") for site in (hv, far)]
        s.add_all(techs)
        s.flush()
        tech_ids = [t.id for t in techs]
    for tech in tech_ids:
        _attest(sessions, b2vl, b2vl_key, tech, "fr.nfc18550.b2vl")
    for site in (plain, hv):
        _attest(sessions, diag, diag_key, site, "diag.multibrand")
    _attest(sessions, sermi, sermi_key, keys, "eu.sermi.operator")
    drain(sessions, index)
    return {"hv": hv, "plain": plain, "keys": keys, "far": far}


def _ids(workshops: list[dict]) -> list[str]:
    return [w["site"]["id"] for w in workshops]


@pytest.mark.parametrize("backend", ["search_client", "client"])
def test_a_plug_in_hybrid_with_an_isolation_fault_near_lyon(request, backend, lyon) -> None:  # type: ignore[no-untyped-def]
    web: TestClient = request.getfixturevalue(backend)
    body = {
        "vehicle": {"vin": _vin("VF1RJA00X12345678"), "powertrain": "phev"},
        "codes": ["p0aa6"],
        "place": "Lyon",
        "radius_km": 25,
    }
    reply = web.post("/v1/repair-intents", json=body)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["vehicle"]["brand"] == "renault" and answer["vehicle"]["brand_from"] == "vin"
    assert answer["vehicle"]["vin"]["maker"] == "Renault"
    assert answer["codes"] == [
        {"code": "P0AA6", "failure_type": None, "system": "powertrain", "scope": "generic",
         "rule": "hv-isolation"}
    ]  # fmt: skip
    [need] = answer["required"]
    assert need["job"] == "ev-battery" and "fr.nfc18550.b2vl" in need["competences"]
    assert "isolation" in need["reason"]["en"] and "isolement" in need["reason"]["fr"]
    assert answer["preferred"][0]["competences"] == ["oem.renault.ev"]
    assert answer["complete"] and _ids(answer["workshops"]) == [lyon["hv"]]
    [shop] = answer["workshops"]
    assert shop["meets"] == [
        {"need": "ev-battery", "scheme": "fr.nfc18550.b2vl", "status": "verified"}
    ]
    assert shop["lacks"] == [] and shop["preferred"] == []


def test_both_backends_give_the_same_workshops_in_the_same_order(
    search_client, client, lyon
) -> None:
    for body in (
        {"codes": ["U0100", "P0300"], "place": "Lyon", "radius_km": 50},
        {"jobs": ["keys-immobiliser"], "lat": LYON[0], "lng": LYON[1], "radius_km": 100},
        {"codes": ["P0AA6", "P0562", "U0111", "B0001", "C0035"], "vehicle": {"powertrain": "bev"},
         "place": "Lyon", "radius_km": 10},
        {"codes": ["P0A80"], "place": "Lyon", "radius_km": 10},
    ):  # fmt: skip
        index = search_client.post("/v1/repair-intents", json=body).json()
        database = client.post("/v1/repair-intents", json=body).json()
        for part in ("workshops", "further", "partial"):
            assert _ids(index[part]) == _ids(database[part]), (body, part)
        assert index["required"] == database["required"]


def test_when_nothing_near_meets_every_need_it_says_where_to_go(search_client, lyon) -> None:
    body = {
        "codes": ["P0AA6", "P0513"],  # high voltage and keys: no workshop near holds both
        "vehicle": {"powertrain": "hev"},
        "place": "Lyon",
        "radius_km": 25,
    }
    answer = search_client.post("/v1/repair-intents", json=body).json()
    assert not answer["complete"] and answer["workshops"] == []
    assert {n["job"] for n in answer["required"]} == {"ev-battery", "keys-immobiliser"}
    # Nearest meeting both: none at all (the far one lacks SERMI) — and further lists none.
    assert answer["further"] == []
    # Nearest meeting the most: each near one meets one need; ordered by distance.
    partial = answer["partial"]
    assert _ids(partial) == [lyon["hv"], lyon["keys"]]
    assert partial[0]["lacks"] == ["keys-immobiliser"] and partial[1]["lacks"] == ["ev-battery"]
    only_hv = {**body, "codes": ["P0AA6"], "radius_km": 0.5}
    wider = search_client.post("/v1/repair-intents", json=only_hv).json()
    assert not wider["complete"] and _ids(wider["further"]) == [lyon["hv"], lyon["far"]]


def test_bad_input_names_the_bad_code_vin_or_job(client) -> None:
    cases = [
        ({"codes": ["P0AA6", "X1234"], "place": "Lyon"}, "/codes/1", "X1234"),
        ({"codes": ["P4000"], "place": "Lyon"}, "/codes/0", "SAE J2012"),
        ({"jobs": ["tyres"], "place": "Lyon"}, "/jobs/0", "tyres"),
        ({"codes": ["P0AA6"], "vehicle": {"vin": "1HGCM82643A004352"}, "place": "Lyon"},
         "/vehicle/vin", "check digit"),
        ({"codes": ["P0AA6"], "vehicle": {"vin": "VF1-SHORT"}, "place": "Lyon"},
         "/vehicle/vin", "17"),
        ({"codes": ["P0AA6"], "vehicle": {"vin": "1HGCM82633A004352", "brand": "renault"},
          "place": "Lyon"}, "/vehicle/brand", "honda"),
        ({"place": "Lyon"}, "/codes", "fault codes"),
        ({"codes": ["P0AA6"]}, "/lat", "place"),
        ({"codes": ["P0AA6"], "place": "Atlantis"}, "/place", "Atlantis"),
    ]  # fmt: skip
    for body, pointer, words in cases:
        reply = client.post("/v1/repair-intents", json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
        problems = reply.json()["errors"]
        assert any(p["pointer"] == pointer and words in p["detail"] for p in problems), (
            body,
            problems,
        )
    too_many = client.post("/v1/repair-intents", json={"codes": ["P0300"] * 21, "place": "Lyon"})
    assert too_many.status_code == 400


def test_the_batch_answers_each_intent_in_order_for_keys_with_the_scope(
    client, make_key, lyon
) -> None:
    batch = {
        "intents": [
            {"codes": ["P0AA6"], "place": "Lyon"},
            {"codes": ["nope"], "place": "Lyon"},
            "not an object",
            {"jobs": ["keys-immobiliser"], "place": "Lyon", "radius_km": 10},
        ]
    }
    assert client.post("/v1/repair-intents/batch", json=batch).status_code == 401
    assert (
        client.post("/v1/repair-intents/batch", json=batch, headers=make_key("changes")).status_code
        == 403
    )
    reply = client.post("/v1/repair-intents/batch", json=batch, headers=make_key("search:batch"))
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert _ids(results[0]["workshops"]) == [lyon["hv"]]
    assert results[1]["status"] == 400 and results[1]["errors"][0]["pointer"] == "/codes/0"
    assert results[2]["status"] == 400
    assert _ids(results[3]["workshops"]) == [lyon["keys"]]


def test_anonymous_intents_draw_from_the_search_rate_limit(settings) -> None:
    from directory.gate.auth import Principal, _bucket

    anonymous = Principal(kind="anonymous", client="203.0.113.9")
    for path in ("/v1/search", "/v1/repair-intents", "/"):
        assert _bucket("POST", path, anonymous, settings) == (
            "search:ip:203.0.113.9",
            settings.rate_search_anonymous,
        )
