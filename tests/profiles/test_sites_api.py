"""The v1 profile API: create, read, update with preconditions, close, list."""

from __future__ import annotations

import threading

from litestar.testing import TestClient
from sqlalchemy import select

from directory.models import OutboxEvent
from tests.conftest import ORG, SITE, table_snapshot


def test_created_site_is_normalised_and_tagged(client: TestClient, site: dict) -> None:
    assert site["id"].startswith("st_")
    assert site["phone"] == "+33478123456"
    assert site["brands"] == ["dacia", "renault"]
    assert site["location"] == {"lat": 45.7597, "lng": 4.859, "source": "provided"}
    reply = client.get(site["url"])
    assert reply.status_code == 200
    assert reply.headers["etag"] == '"1"'
    assert reply.json()["name"] == SITE["name"]


def test_site_without_location_is_geocoded_from_its_postcode(
    client: TestClient, admin: dict, organisation: dict
) -> None:
    body = {**SITE, "location": None}
    del body["location"]
    reply = client.post(f"/v1/organisations/{organisation['id']}/sites", json=body, headers=admin)
    assert reply.status_code == 201, reply.text
    loc = reply.json()["location"]
    assert loc["source"] == "gazetteer"
    assert abs(loc["lat"] - 45.75) < 0.05 and abs(loc["lng"] - 4.87) < 0.05


def test_ungeocodable_site_without_location_is_refused(
    client: TestClient, admin: dict, organisation: dict
) -> None:
    body = {k: v for k, v in SITE.items() if k != "location"}
    body["address"] = {"city": "Nowhere-sur-Rien", "country": "FR"}
    reply = client.post(f"/v1/organisations/{organisation['id']}/sites", json=body, headers=admin)
    assert reply.status_code == 400
    assert [e["pointer"] for e in reply.json()["errors"]] == ["/location"]


def test_patch_needs_if_match_and_refuses_a_stale_one(
    client: TestClient, admin: dict, site: dict
) -> None:
    url = site["url"]
    assert client.patch(url, json={"name": "X"}, headers=admin).status_code == 428
    ok = client.patch(url, json={"name": "Garage Martin"}, headers={**admin, "If-Match": '"1"'})
    assert ok.status_code == 200 and ok.headers["etag"] == '"2"'
    stale = client.patch(url, json={"name": "Y"}, headers={**admin, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert client.get(url).json()["name"] == "Garage Martin"


def test_two_concurrent_writers_one_wins_the_other_gets_412(
    client: TestClient, admin: dict, site: dict
) -> None:
    barrier = threading.Barrier(2)
    codes: list[int] = []

    def write(name: str) -> None:
        barrier.wait()
        reply = client.patch(site["url"], json={"name": name}, headers={**admin, "If-Match": '"1"'})
        codes.append(reply.status_code)

    threads = [threading.Thread(target=write, args=(n,)) for n in ("First", "Second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 412]
    final = client.get(site["url"])
    assert final.headers["etag"] == '"2"'
    assert final.json()["name"] in ("First", "Second")


def test_identical_patch_does_not_make_a_new_version(
    client: TestClient, admin: dict, site: dict
) -> None:
    reply = client.patch(
        site["url"], json={"name": SITE["name"]}, headers={**admin, "If-Match": '"1"'}
    )
    assert reply.status_code == 200 and reply.headers["etag"] == '"1"'


def test_patch_that_moves_the_address_regeocodes_unless_location_given(
    client: TestClient, admin: dict, organisation: dict
) -> None:
    body = {k: v for k, v in SITE.items() if k != "location"}
    created = client.post(
        f"/v1/organisations/{organisation['id']}/sites", json=body, headers=admin
    ).json()
    moved = client.patch(
        created["url"],
        json={"address": {"postcode": "13001", "city": "Marseille", "country": "FR"}},
        headers={**admin, "If-Match": '"1"'},
    )
    assert moved.status_code == 200, moved.text
    assert abs(moved.json()["location"]["lat"] - 43.3) < 0.1


def test_delete_closes_the_site_and_writes_a_tombstone(
    client: TestClient, admin: dict, site: dict, sessions
) -> None:
    reply = client.delete(site["url"], headers=admin)
    assert reply.status_code == 200 and reply.json()["status"] == "closed"
    assert client.get(site["url"]).json()["status"] == "closed"
    with sessions() as session:
        ops = [
            (e.entity, e.op)
            for e in session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.entity_id == site["id"])
                .order_by(OutboxEvent.id)
            )
        ]
    assert ops == [("site", "create"), ("site", "delete")]


def test_closing_an_organisation_closes_its_sites(
    client: TestClient, admin: dict, organisation: dict, site: dict
) -> None:
    reply = client.delete(f"/v1/organisations/{organisation['id']}", headers=admin)
    assert reply.status_code == 200
    assert client.get(site["url"]).json()["status"] == "closed"
    refused = client.post(f"/v1/organisations/{organisation['id']}/sites", json=SITE, headers=admin)
    assert refused.status_code == 409


def test_listing_pages_through_every_site_once(
    client: TestClient, admin: dict, organisation: dict
) -> None:
    made = set()
    for i in range(7):
        reply = client.post(
            f"/v1/organisations/{organisation['id']}/sites",
            json={**SITE, "name": f"Site {i}"},
            headers=admin,
        )
        made.add(reply.json()["id"])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/sites", params=params).json()
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and set(seen) == made


def test_updated_after_returns_only_later_changes(
    client: TestClient, admin: dict, site: dict
) -> None:
    changed = client.patch(
        site["url"], json={"name": "Renamed"}, headers={**admin, "If-Match": '"1"'}
    ).json()
    later = client.get("/v1/sites", params={"updated_after": site["updated_at"]}).json()
    assert [s["id"] for s in later["items"]] == [site["id"]]
    none = client.get("/v1/sites", params={"updated_after": changed["updated_at"]}).json()
    assert none["items"] == []


def test_bad_cursor_and_limit_are_problems(client: TestClient) -> None:
    for params, pointer in (
        ({"cursor": "garbage!"}, "/query/cursor"),
        ({"limit": 101}, "/query/limit"),
    ):
        reply = client.get("/v1/sites", params=params)
        assert reply.status_code == 400
        assert reply.json()["errors"][0]["pointer"] == pointer


def test_jsonld_profile_is_schema_org(client: TestClient, site: dict) -> None:
    reply = client.get(site["url"], headers={"Accept": "application/ld+json"})
    assert reply.headers["content-type"].startswith("application/ld+json")
    doc = reply.json()
    assert doc["@type"] == "AutoRepair"
    assert doc["geo"]["latitude"] == 45.7597
    assert doc["address"]["postalCode"] == "69003"


def test_duplicate_identifier_is_a_conflict_and_writes_nothing(
    client: TestClient, admin: dict, organisation: dict, sessions
) -> None:
    before = table_snapshot(sessions)
    reply = client.post("/v1/organisations", json={**ORG, "legal_name": "Other"}, headers=admin)
    assert reply.status_code == 409
    assert reply.json()["errors"][0]["pointer"] == "/identifiers/0/value"
    assert table_snapshot(sessions) == before


def test_writes_need_an_admin_key(client: TestClient, make_key, sessions) -> None:
    other_scope = make_key("changes")
    before = table_snapshot(sessions)
    assert client.post("/v1/organisations", json=ORG).status_code == 401
    wrong = {"Authorization": "Bearer atk_0000000000_" + "A" * 43}
    assert client.post("/v1/organisations", json=ORG, headers=wrong).status_code == 401
    assert client.post("/v1/organisations", json=ORG, headers=other_scope).status_code == 403
    assert table_snapshot(sessions) == before  # byte for byte: not even an audit row


def test_revoked_key_stops_working_at_once(client: TestClient, sessions) -> None:
    from directory.db import transaction
    from directory.gate import keys

    with transaction(sessions) as session:
        key, secret = keys.create_key(session, "soon revoked", ["admin"])
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.post("/v1/organisations", json=ORG, headers=headers).status_code == 201
    with transaction(sessions) as session:
        keys.revoke_key(session, key.prefix)
    assert (
        client.post(
            "/v1/organisations", json={**ORG, "identifiers": []}, headers=headers
        ).status_code
        == 401
    )


def test_oversized_body_is_413(client: TestClient, admin: dict) -> None:
    body = b'{"legal_name": "' + b"x" * 70_000 + b'"}'
    reply = client.post(
        "/v1/organisations", content=body, headers={**admin, "content-type": "application/json"}
    )
    assert reply.status_code == 413
    assert reply.headers["content-type"].startswith("application/problem+json")


def test_openapi_document_describes_the_v1_routes(client: TestClient) -> None:
    doc = client.get("/schema/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert {"/v1/sites/{site_id}", "/v1/organisations/{organisation_id}/sites"} <= set(doc["paths"])
    assert client.get("/schema").status_code == 200


def test_health_reports_database_and_search(client: TestClient) -> None:
    assert client.get("/health/live").json()["status"] == "ok"
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "search": "ok"}


def test_readiness_is_down_only_without_the_database(settings, meili) -> None:  # type: ignore[no-untyped-def]
    from directory.app import create_app
    from directory.db import make_engine

    nowhere = make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none")
    app = create_app(settings, engine=nowhere, meili_url=meili.url)
    app.on_shutdown.clear()
    with TestClient(app) as c:
        ready = c.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "down"
    assert ready.json()["checks"]["database"].startswith("unavailable")
    assert ready.json()["checks"]["search"] == "ok"
