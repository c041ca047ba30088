"""What integrations pull: the change feed and batch search."""

from __future__ import annotations

import threading

from litestar.testing import TestClient
from sqlalchemy import select

from directory.db import transaction
from directory.models import OutboxEvent
from directory.profiles import service as profiles
from directory.profiles.schemas import OrganisationCreate


def test_the_change_feed_misses_nothing_and_repeats_nothing_under_concurrent_writers(
    client: TestClient, make_key, sessions
) -> None:
    feed = make_key("changes")
    seen: list[int] = []
    cursor = "0"

    def write(tag: str) -> None:
        for i in range(40):
            with transaction(sessions) as s:
                profiles.create_organisation(
                    s, OrganisationCreate(legal_name=f"{tag} {i}", kind="independent")
                )

    def read_some() -> None:
        nonlocal cursor
        page = client.get("/v1/changes", params={"after": cursor, "limit": 7}, headers=feed).json()
        seen.extend(item["seq"] for item in page["items"])
        cursor = page["next_cursor"]

    writers = [threading.Thread(target=write, args=(t,)) for t in ("A", "B")]
    for t in writers:
        t.start()
    while any(t.is_alive() for t in writers):
        read_some()
    for t in writers:
        t.join()
    for _ in range(30):  # drain what is left, resuming from the last cursor
        read_some()
    with sessions() as s:
        events = s.scalars(select(OutboxEvent)).all()
    assert len(events) == 80
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 80
    assert sorted(seen) == sorted(e.seq for e in events)


def test_the_feed_needs_its_scope(client: TestClient, make_key) -> None:
    assert client.get("/v1/changes").status_code == 401
    assert client.get("/v1/changes", headers=make_key("search:batch")).status_code == 403
    bad = client.get("/v1/changes", params={"after": "x"}, headers=make_key("changes"))
    assert bad.status_code == 400


def test_batch_search_answers_in_order_and_a_bad_query_keeps_its_slot(
    client: TestClient, make_key, site: dict
) -> None:
    key = make_key("search:batch")
    queries = [
        {"lat": 45.76, "lng": 4.85, "radius_km": 5},
        {"lat": 95, "lng": 4.85},
        {"place": "69003", "radius_km": 5},
    ]
    reply = client.post("/v1/search/batch", json={"queries": queries}, headers=key)
    assert reply.status_code == 200, reply.text
    first, second, third = reply.json()["results"]
    assert [i["id"] for i in first["items"]] == [site["id"]]
    assert second["status"] == 400 and second["errors"][0]["pointer"] == "/query/lat"
    assert [i["id"] for i in third["items"]] == [site["id"]]
    too_many = client.post("/v1/search/batch", json={"queries": [queries[0]] * 501}, headers=key)
    assert too_many.status_code == 400
    assert client.post("/v1/search/batch", json={"queries": queries}).status_code == 401


def test_every_write_is_audited_with_who_what_and_from_where(
    client: TestClient, admin: dict, site: dict, make_key
) -> None:
    client.patch(
        site["url"],
        json={"name": "Renamed", "brands": ["renault"]},
        headers={**admin, "If-Match": '"1"'},
    )
    entries = client.get("/v1/audit", params={"entity_id": site["id"]}, headers=admin).json()
    actions = [(e["action"], e["actor"]["kind"]) for e in entries["items"]]
    assert actions == [("create", "key"), ("update", "key")]
    update = entries["items"][1]
    assert update["changes"]["name"] == ["Garage Martin Lyon 3", "Renamed"]
    assert update["changes"]["brands"] == [["dacia", "renault"], ["renault"]]
    assert "version" not in update["changes"] and update["actor"]["ip"]
    prefix = admin["Authorization"].split("_")[1]
    assert update["actor"]["id"] == prefix
    # Creating a key is audited too, and its secret never appears.
    key = make_key("changes")
    trail = client.get("/v1/audit", headers=admin).json()["items"]
    assert any(e["entity"] == "api_key" for e in trail)
    assert key["Authorization"].split("_", 2)[2] not in str(trail)
    assert client.get("/v1/audit", headers=make_key("changes")).status_code == 403


def test_metrics_need_their_scope_and_report_the_backlog(
    client: TestClient, make_key, admin: dict[str, str]
) -> None:
    client.post(
        "/v1/organisations", json={"legal_name": "M SARL", "kind": "independent"}, headers=admin
    )
    client.get("/v1/search", params={"lat": 45.76, "lng": 4.83})
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=make_key("changes")).status_code == 403
    reply = client.get("/metrics", headers=make_key("metrics"))
    assert reply.status_code == 200
    text = reply.text
    # The organisation's change is not indexed (no worker in this app): one event waits.
    assert "atelier_outbox_pending 1.0" in text
    assert 'atelier_searches_total{backend="database"}' in text
    # Per-route figures are grouped by template, never by id.
    assert 'atelier_request_duration_seconds_count{method="POST",path="/v1/organisations"' in text
    assert "org_" not in text
