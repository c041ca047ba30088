"""Searching by a repair job in plain words, and place suggestions as a person types."""

from __future__ import annotations

from tests.conftest import drain
from tests.searching.test_search import LYON, _attest, _issuer, add_site, both


def test_a_job_in_plain_words_finds_the_workshops_holding_any_of_its_competences(
    search_client, client, sessions, index, gazetteer
) -> None:
    keys = add_site(sessions, gazetteer, "Keys", 45.76, 4.84)
    add_site(sessions, gazetteer, "Plain", 45.77, 4.84)
    iss, key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    _attest(sessions, iss, key, keys, "eu.sermi.operator")
    drain(sessions, index)
    base = {"lat": LYON[0], "lng": LYON[1]}
    assert both(search_client, client, {**base, "job": "keys-immobiliser"}) == [keys]
    assert both(search_client, client, {**base, "job": "air-conditioning"}) == []
    hit = search_client.get("/v1/search", params={**base, "job": "keys-immobiliser"}).json()
    assert [c["scheme"] for c in hit["items"][0]["competences"]] == ["eu.sermi.operator"]
    bad = search_client.get("/v1/search", params={**base, "job": "teleportation"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "/query/job/0"
    listed = client.get("/v1/jobs").json()["items"]
    sermi = next(j for j in listed if j["id"] == "keys-immobiliser")
    assert (
        sermi["name"]["fr"] and sermi["name"]["en"] and "eu.sermi.operator" in sermi["competences"]
    )


def test_places_are_suggested_as_a_person_types(client) -> None:
    reply = client.get("/v1/places", params={"q": "lyo"})
    assert reply.status_code == 200, reply.text
    first = reply.json()["items"][0]
    assert (first["label"], first["country"]) == ("Lyon", "FR")
    assert abs(first["lat"] - 45.76) < 0.05 and abs(first["lng"] - 4.84) < 0.05
    codes = client.get("/v1/places", params={"q": "6900", "limit": 3}).json()["items"]
    assert [p["postcode"] for p in codes] == ["69001", "69002", "69003"]
    accents = client.get("/v1/places", params={"q": "saint-étienne"}).json()["items"]
    assert accents[0]["label"] == "St Etienne"
    for bad in ({"q": "l"}, {"q": "lyon", "limit": 50}, {"q": "a\x00"}):
        assert client.get("/v1/places", params=bad).status_code == 400, bad
