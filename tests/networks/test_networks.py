"""Private networks: an integration's own list of sites, invisible to everyone else — in the
API, in search on both backends, and in the public change feed."""

from __future__ import annotations

from litestar.testing import TestClient
from sqlalchemy.orm import Session, sessionmaker

from directory.db import transaction
from directory.gate import keys
from tests.conftest import drain, table_snapshot
from tests.searching.test_search import LYON, add_site, ids


def _key(sessions: sessionmaker[Session], integration: str, *scopes: str) -> dict[str, str]:
    with transaction(sessions) as session:
        secret = keys.create_key(session, integration, scopes, integration=integration)[1]
    return {"Authorization": f"Bearer {secret}"}


def test_a_private_network_exists_only_for_its_integration(
    search_client: TestClient, client: TestClient, sessions, index, gazetteer
) -> None:
    members = [
        add_site(sessions, gazetteer, f"Agréé {i}", LYON[0] + i / 100, LYON[1]) for i in range(3)
    ]
    outsider = add_site(sessions, gazetteer, "Pas agréé", LYON[0], LYON[1] + 0.01)
    insurer = _key(sessions, "assureur-a", "networks:write", "changes")
    other = _key(sessions, "assureur-b", "networks:write", "changes")
    insurer_rotated = _key(sessions, "assureur-a", "networks:write")  # same integration

    made = search_client.post(
        "/v1/networks", json={"name": "Réparateurs agréés", "kind": "insurer"}, headers=insurer
    )
    assert made.status_code == 201, made.text
    network = made.json()
    assert network["visibility"] == "private"
    reply = search_client.put(
        f"/v1/networks/{network['id']}/members", json={"sites": members}, headers=insurer
    )
    assert reply.json() == {"network_id": network["id"], "members": 3, "added": 3, "removed": 0}
    again = search_client.put(
        f"/v1/networks/{network['id']}/members", json={"sites": members}, headers=insurer
    )
    assert again.json()["added"] == again.json()["removed"] == 0  # idempotent
    drain(sessions, index)

    params = {"lat": LYON[0], "lng": LYON[1], "radius_km": 20, "network": network["id"]}
    for app in (search_client, client):  # the index, then the database fallback
        mine = app.get("/v1/search", params=params, headers=insurer)
        assert sorted(ids(mine)) == sorted(members)
        assert all(network["id"] in i["networks"] for i in mine.json()["items"])
        assert sorted(ids(app.get("/v1/search", params=params, headers=insurer_rotated))) == sorted(
            members
        )
        # Anyone else: exactly what a network that does not exist gives.
        ghost = {**params, "network": "nw_doesnotexist"}
        for headers in (other, {}):
            theirs = app.get("/v1/search", params=params, headers=headers)
            nothing = app.get("/v1/search", params=ghost, headers=headers)
            assert theirs.status_code == nothing.status_code == 200
            assert theirs.json() == nothing.json()
            assert theirs.json()["items"] == []
        # ... and results never name it to them.
        everyone = app.get("/v1/search", params={k: v for k, v in params.items() if k != "network"})
        assert len(ids(everyone)) == 4
        assert not any(network["id"] in i["networks"] for i in everyone.json()["items"])
    assert outsider not in ids(search_client.get("/v1/search", params=params, headers=insurer))

    for headers in (other, {}):
        assert (
            search_client.get(f"/v1/networks/{network['id']}", headers=headers).status_code == 404
        )
        reply = search_client.get(f"/v1/networks/{network['id']}/members", headers=headers)
        assert reply.status_code == 404
        listed = search_client.get("/v1/networks", headers=headers).json()["items"]
        assert network["id"] not in [n["id"] for n in listed]
    before = table_snapshot(sessions)
    reply = search_client.put(
        f"/v1/networks/{network['id']}/members", json={"sites": [outsider]}, headers=other
    )
    assert reply.status_code == 404
    assert table_snapshot(sessions) == before
    feed = search_client.get("/v1/changes", params={"limit": 1000}, headers=other).json()
    assert network["id"] not in {c["id"] for c in feed["items"]}

    # Published, it becomes part of the directory for everyone.
    current = search_client.get(f"/v1/networks/{network['id']}", headers=insurer)
    reply = search_client.patch(
        f"/v1/networks/{network['id']}",
        json={"visibility": "public"},
        headers={**insurer, "If-Match": current.headers["etag"]},
    )
    assert reply.status_code == 200, reply.text
    drain(sessions, index)
    for app in (search_client, client):
        assert sorted(ids(app.get("/v1/search", params=params))) == sorted(members)
    assert search_client.get(f"/v1/networks/{network['id']}").status_code == 200
    feed = search_client.get("/v1/changes", params={"limit": 1000}, headers=other).json()
    assert network["id"] in {c["id"] for c in feed["items"]}


def test_members_must_be_open_sites_and_each_bad_one_is_pointed_at(
    client: TestClient, sessions, gazetteer
) -> None:
    site = add_site(sessions, gazetteer, "Garage", *LYON)
    insurer = _key(sessions, "assureur-a", "networks:write")
    network = client.post(
        "/v1/networks", json={"name": "Flotte", "kind": "fleet"}, headers=insurer
    ).json()
    for sites, pointers in (
        ([site, "st_nosuchsite"], ["/sites/1"]),  # no such site
        ([site, site, site.upper()], ["/sites/2"]),  # not even an id (schema)
    ):
        reply = client.put(
            f"/v1/networks/{network['id']}/members", json={"sites": sites}, headers=insurer
        )
        assert reply.status_code == 400
        assert [e["pointer"] for e in reply.json()["errors"]] == pointers
    assert client.get(f"/v1/networks/{network['id']}", headers=insurer).json()["members"] == 0
    # Keys without the scope cannot create networks.
    assert (
        client.post(
            "/v1/networks",
            json={"name": "x", "kind": "fleet"},
            headers=_key(sessions, "c", "changes"),
        ).status_code
        == 403
    )


def test_hidden_events_never_leave_an_empty_page_before_the_end(
    client: TestClient, sessions, admin: dict[str, str]
) -> None:
    reader = _key(sessions, "mirror", "changes")
    start = client.get("/v1/changes", params={"limit": 1000}, headers=reader).json()
    insurer = _key(sessions, "assureur-a", "networks:write")
    for name in ("A", "B", "C"):  # three private networks: three events nobody else sees
        client.post("/v1/networks", json={"name": name, "kind": "insurer"}, headers=insurer)
    org = client.post(
        "/v1/organisations",
        json={"legal_name": "Visible SARL", "kind": "independent"},
        headers=admin,
    ).json()
    page = client.get(
        "/v1/changes", params={"after": start["next_cursor"], "limit": 1}, headers=reader
    ).json()
    assert [(c["entity"], c["id"]) for c in page["items"]] == [("organisation", org["id"])]
    rest = client.get(
        "/v1/changes", params={"after": page["next_cursor"], "limit": 10}, headers=reader
    ).json()
    assert rest["items"] == []
