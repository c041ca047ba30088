"""Search against the real engine, and the same queries on the database fallback."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from geopy.distance import geodesic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient
from sqlalchemy import select

from certifications import jws
from certifications.catalogue import default_catalogue
from directory.db import transaction
from directory.models import Attestation, OutboxEvent, Site, Technician
from directory.outbox.sync import SyncWorker
from directory.profiles import service as profiles
from directory.profiles.schemas import OrganisationCreate, SiteCreate
from directory.trust import service as trust
from search.engine import MeiliProcess
from search.index import ensure_settings
from search.query import quote
from tests.conftest import drain, writer_for

LYON = (45.7640, 4.8357)


def add_site(sessions, gazetteer, name: str, lat: float, lng: float, **extra) -> str:  # type: ignore[no-untyped-def]
    body = {
        "name": name,
        "address": {"city": "Lyon", "country": extra.pop("country", "FR")},
        "location": {"lat": lat, "lng": lng},
        **extra,
    }
    with transaction(sessions) as s:
        org = profiles.create_organisation(
            s, OrganisationCreate(legal_name=f"{name} SARL", kind="independent")
        )
        import msgspec

        site = profiles.create_site(s, gazetteer, org.id, msgspec.convert(body, SiteCreate))
        return site.id


def ring(sessions, gazetteer, n: int, max_km: float, seed: int = 1) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    made = {}
    for i in range(n):
        km = rng.uniform(0.1, max_km)
        point = geodesic(kilometers=km).destination(LYON, rng.uniform(0, 360))
        made[add_site(sessions, gazetteer, f"Garage {i}", point.latitude, point.longitude)] = km
    return made


def ids(reply: httpx.Response) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [i["id"] for i in reply.json()["items"]]


def both(search_client: TestClient, client: TestClient, params: dict) -> list[str]:
    """The same query on the index and on the database: same set, same order."""
    on_index = search_client.get("/v1/search", params=params)
    on_db = client.get("/v1/search", params=params)
    assert on_index.headers["x-search-backend"] == "index"
    assert on_db.headers["x-search-backend"] == "database"
    assert ids(on_index) == ids(on_db), params
    return ids(on_index)


def test_results_are_exactly_the_sites_within_the_radius_in_geodesic_order(
    search_client, client, sessions, index, gazetteer
) -> None:
    made = ring(sessions, gazetteer, 80, 30)
    # Two sites straddling the 20 km boundary by 10 metres.
    inside = geodesic(kilometers=19.99).destination(LYON, 45)
    outside = geodesic(kilometers=20.01).destination(LYON, 45)
    edge_in = add_site(sessions, gazetteer, "Edge in", inside.latitude, inside.longitude)
    edge_out = add_site(sessions, gazetteer, "Edge out", outside.latitude, outside.longitude)
    drain(sessions, index)
    params = {"lat": LYON[0], "lng": LYON[1], "radius_km": 20, "limit": 100}
    got = both(search_client, client, params)
    expected = sorted((sid for sid, km in made.items() if km <= 20), key=made.__getitem__)
    assert edge_in in got and edge_out not in got
    got.remove(edge_in)
    assert got == expected
    items = search_client.get("/v1/search", params=params).json()["items"]
    for it in items:
        exact = geodesic(LYON, (it["location"]["lat"], it["location"]["lng"])).meters
        assert abs(it["distance_m"] - exact) <= 1
    assert [i["distance_m"] for i in items] == sorted(i["distance_m"] for i in items)


def test_pages_follow_each_other_without_repeat_or_gap(
    search_client, client, sessions, index, gazetteer
) -> None:
    made = ring(sessions, gazetteer, 45, 15, seed=2)
    drain(sessions, index)
    for c in (search_client, client):
        seen: list[str] = []
        params = {"lat": LYON[0], "lng": LYON[1], "radius_km": 20, "limit": 7}
        while True:
            page = c.get("/v1/search", params=params).json()
            seen += [i["id"] for i in page["items"]]
            if not page["next_cursor"]:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == sorted(made, key=made.__getitem__)


def _issuer(sessions, scheme: str, kind: str = "training-body"):  # type: ignore[no-untyped-def]
    key = jws.generate_jwk()
    with transaction(sessions) as s:
        issuer = trust.create_issuer(
            s,
            default_catalogue(),
            name="Test issuer",
            kind=kind,
            schemes=[scheme],
            jwks=[jws.public_jwk(key)],
        )
        trust.set_issuer_status(s, issuer.id, "trusted")
    return issuer.id, key


def _attest(sessions, iss, key, sub, scheme, seconds: int = 86400 * 365) -> str:  # type: ignore[no-untyped-def]
    now = int(time.time())
    token = jws.sign(
        {
            "iss": iss,
            "sub": sub,
            "scheme": scheme,
            "iat": now - 10,
            "nbf": now - 10,
            "exp": now + seconds,
            "jti": f"att_{time.time_ns()}",
        },
        key,
    )
    with transaction(sessions) as s:
        return trust.submit_attestation(s, default_catalogue(), token).jti


def test_a_higher_habilitation_matches_a_search_for_a_lower_one(
    search_client, client, sessions, index, gazetteer
) -> None:
    site = add_site(sessions, gazetteer, "HV", 45.76, 4.84)
    add_site(sessions, gazetteer, "Plain", 45.77, 4.84)
    with transaction(sessions) as s:
        tech = Technician(site_id=site, display_name="Alex")
        s.add(tech)
    iss, key = _issuer(sessions, "fr.nfc18550.b2vl")
    _attest(sessions, iss, key, tech.id, "fr.nfc18550.b2vl")
    drain(sessions, index)
    base = {"lat": LYON[0], "lng": LYON[1]}
    assert both(search_client, client, {**base, "competence": "fr.nfc18550.b1vl"}) == [site]
    assert both(search_client, client, {**base, "competence": "fr.nfc18550.b2tl"}) == []
    assert both(search_client, client, {**base, "domain": "ev-high-voltage"}) == [site]
    hit = search_client.get("/v1/search", params={**base, "competence": "fr.nfc18550.b1vl"})
    (matched,) = hit.json()["items"][0]["competences"]
    assert (matched["scheme"], matched["status"], matched["issuer"]) == (
        "fr.nfc18550.b1vl",
        "verified",
        iss,
    )


def test_an_attestation_expiring_between_two_searches_stops_matching(
    search_client, client, sessions, index, gazetteer
) -> None:
    site = add_site(sessions, gazetteer, "SERMI", 45.76, 4.84)
    iss, key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    jti = _attest(sessions, iss, key, site, "eu.sermi.operator", seconds=8)
    with sessions() as s:
        ends = s.get(Attestation, jti).valid_until  # type: ignore[union-attr]
    drain(sessions, index)
    params = {"lat": LYON[0], "lng": LYON[1], "competence": "eu.sermi.operator"}
    assert both(search_client, client, params) == [site]
    time.sleep(max((ends - datetime.now(UTC)).total_seconds(), 0) + 0.2)
    # No sync, no rebuild in between: the index already knew when it ends.
    assert both(search_client, client, params) == []
    just_before = (ends - timedelta(seconds=1)).isoformat()
    at_the_end = ends.isoformat()
    assert both(search_client, client, {**params, "valid_at": just_before}) == [site]
    assert both(search_client, client, {**params, "valid_at": at_the_end}) == []


def test_declared_competences_count_only_when_asked(
    search_client, client, sessions, index, gazetteer
) -> None:
    site = add_site(sessions, gazetteer, "Declares", 45.76, 4.84)
    with transaction(sessions) as s:
        trust.declare_claim(s, default_catalogue(), site, "adas.calibration.static", None)
    drain(sessions, index)
    params = {"lat": LYON[0], "lng": LYON[1], "competence": "adas.calibration.static"}
    assert both(search_client, client, params) == []
    assert both(search_client, client, {**params, "include_declared": "true"}) == [site]


def test_open_at_reads_each_sites_own_time_zone_across_dst(
    search_client, client, sessions, index, gazetteer
) -> None:
    hours = {"opening_hours": "Mo-Fr 08:00-18:00"}
    paris = add_site(
        sessions, gazetteer, "Paris hours", 48.86, 2.35, timezone="Europe/Paris", **hours
    )
    london = add_site(
        sessions, gazetteer, "London hours", 48.87, 2.35, timezone="Europe/London", **hours
    )
    drain(sessions, index)
    base = {"lat": 48.86, "lng": 2.35, "radius_km": 50}
    cases = [
        ("2026-01-12T07:30:00Z", [paris]),  # winter: Paris 08:30, London 07:30
        ("2026-01-12T08:30:00Z", [paris, london]),
        ("2026-07-13T06:30:00Z", [paris]),  # summer: Paris 08:30, London 07:30
        ("2026-07-13T07:00:00Z", [paris, london]),  # London 08:00: opens on the minute
        ("2026-07-13T16:00:00Z", [london]),  # Paris 18:00: closed on the minute
        ("2026-03-29T10:00:00Z", []),  # a Sunday (and the night clocks change)
        ("2026-03-30T06:15:00Z", [paris]),  # the Monday after: Paris on summer time
    ]
    for instant, expected in cases:
        got = both(search_client, client, {**base, "open_at": instant})
        assert sorted(got) == sorted(expected), instant
    bad = search_client.get("/v1/search", params={**base, "open_at": "2026-01-12T07:30:00"})
    assert bad.status_code == 400 and bad.json()["errors"][0]["pointer"] == "/query/open_at"


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("brand", 'renault" OR status = "closed'),
        ("brand", "renault OR 1=1"),
        ("network", 'nw_x") OR ("a'),
        ("competence", "fr.nfc18550.b1vl OR comp"),
        ("service", "tyres\\"),
        ("vehicle", "car) OR (status EXISTS"),
    ],
)
def test_filter_injection_attempts_are_refused(search_client, param, value) -> None:
    reply = search_client.get("/v1/search", params={"lat": 45, "lng": 4, param: value})
    assert reply.status_code == 400
    assert reply.json()["errors"][0]["pointer"].startswith(f"/query/{param}")


def test_text_is_never_a_filter(search_client, client, sessions, index, gazetteer) -> None:
    add_site(sessions, gazetteer, "Garage Quote", 45.76, 4.84)
    drain(sessions, index)
    for q in ['") OR status = "closed', "' OR 1=1 --", "_geoRadius(0, 0, 1)"]:
        reply = search_client.get("/v1/search", params={"lat": 45.76, "lng": 4.84, "q": q})
        assert reply.status_code == 200 and reply.json()["items"] == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(max_size=30))
def test_any_string_quoted_stays_one_literal(meili, meili_keys, index, value: str) -> None:
    reply = httpx.post(
        f"{meili.url}/indexes/sites/search",
        headers={"Authorization": f"Bearer {meili_keys.search}"},
        json={"q": "", "filter": f"brands = {quote(value)}"},
    )
    assert reply.status_code == 200, reply.text


def test_limits_are_enforced(search_client) -> None:
    base = {"lat": 45, "lng": 4}
    for params, pointer in (
        ({"radius_km": 301}, "/query/radius_km"),
        ({"limit": 101}, "/query/limit"),
        ({"q": "x" * 201}, "/query/q"),
        ({"competence": ["fr.nfc18550.b0l"] * 21}, "/query/competence"),
        ({"lat": 91}, "/query/lat"),
        ({"competence": "made.up"}, "/query/competence/0"),
    ):
        reply = search_client.get("/v1/search", params={**base, **params})
        assert reply.status_code == 400, params
        assert reply.json()["errors"][0]["pointer"] == pointer, reply.text


def test_place_is_geocoded_offline(search_client, client, sessions, index, gazetteer) -> None:
    site = add_site(sessions, gazetteer, "Near Lyon", 45.76, 4.84)
    drain(sessions, index)
    reply = search_client.get("/v1/search", params={"place": "69003", "radius_km": 10})
    assert ids(reply) == [site]
    assert reply.json()["origin"]["source"] == "gazetteer"
    unknown = search_client.get("/v1/search", params={"place": "Atlantis"})
    assert unknown.status_code == 400 and unknown.json()["errors"][0]["pointer"] == "/query/place"
    # A former commune (Segré, in Segré-en-Anjou Bleu since 2017) is a place, labelled as such.
    segre = search_client.get("/v1/search", params={"place": "Segré", "radius_km": 5})
    assert segre.status_code == 200, segre.text
    assert segre.json()["origin"]["label"] == "Segré (now Segre En Anjou Bleu)"


def test_a_rolled_back_transaction_leaves_no_trace_in_the_index(
    search_client, sessions, index, gazetteer
) -> None:
    site = add_site(sessions, gazetteer, "Before", 45.76, 4.84)
    drain(sessions, index)
    with pytest.raises(RuntimeError), transaction(sessions) as s:
        s.get(Site, site).name = "Ghost name"  # type: ignore[union-attr]
        s.flush()
        raise RuntimeError("abort")
    assert drain(sessions, index) == 0
    hit = search_client.get("/v1/search", params={"lat": 45.76, "lng": 4.84}).json()["items"]
    assert [h["name"] for h in hit] == ["Before"]


def test_closing_a_site_removes_it_from_search(search_client, sessions, index, gazetteer) -> None:
    site = add_site(sessions, gazetteer, "Closing", 45.76, 4.84)
    drain(sessions, index)
    with transaction(sessions) as s:
        profiles.close_site(s, site, None)
    drain(sessions, index)
    assert ids(search_client.get("/v1/search", params={"lat": 45.76, "lng": 4.84})) == []
    assert index.count() == 0


def test_facets_count_the_matching_sites(search_client, client, sessions, index, gazetteer) -> None:
    add_site(sessions, gazetteer, "A", 45.76, 4.84, brands=["renault"])
    add_site(sessions, gazetteer, "B", 45.77, 4.84, brands=["renault", "dacia"])
    drain(sessions, index)
    params = {"lat": 45.76, "lng": 4.84, "facets": ["brand"]}
    for c in (search_client, client):
        assert c.get("/v1/search", params=params).json()["facets"]["brand"] == {
            "dacia": 1,
            "renault": 2,
        }


def test_relevance_pages_cover_the_text_matches_once_with_count_and_facets(
    search_client, client, sessions, index, gazetteer
) -> None:
    rng = random.Random(7)
    wanted = set()
    for i in range(25):
        brands = ["renault"] if i % 2 else ["peugeot"]
        lat, lng = LYON[0] + rng.uniform(-0.1, 0.1), LYON[1] + rng.uniform(-0.1, 0.1)
        wanted.add(add_site(sessions, gazetteer, f"Carrosserie {i}", lat, lng, brands=brands))
    for i in range(5):
        add_site(sessions, gazetteer, f"Pneus {i}", LYON[0], LYON[1] + i / 100)
    drain(sessions, index)
    params = {"lat": LYON[0], "lng": LYON[1], "radius_km": 30, "q": "carrosserie"}
    params |= {"sort": "relevance", "limit": 10, "facets": ["brand"]}
    for app in (search_client, client):
        seen: list[str] = []
        cursor = None
        for _ in range(5):
            reply = app.get(
                "/v1/search", params={**params, **({"cursor": cursor} if cursor else {})}
            )
            body = reply.json()
            assert body["total_estimate"] == 25
            assert body["facets"]["brand"] == {"renault": 12, "peugeot": 13}
            seen += ids(reply)
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 25
        assert set(seen) == wanted


def test_killing_the_engine_during_a_thousand_updates_loses_none(
    sessions, gazetteer, tmp_path: Path
) -> None:
    proc = MeiliProcess(tmp_path / "engine").start()
    writer = writer_for(proc)
    sites = [add_site(sessions, gazetteer, f"Site {i}", 45.7 + i / 1000, 4.8) for i in range(20)]
    worker = SyncWorker(sessions, writer, default_catalogue(), idle_s=0.02).start()
    killed = threading.Event()
    try:
        for n in range(1000):
            with transaction(sessions) as s:
                s.get(Site, sites[n % 20]).name = f"Site {n % 20} v{n}"  # type: ignore[union-attr]
            if n == 300:
                proc.kill()
                killed.set()
            if n == 600:
                proc = MeiliProcess(
                    tmp_path / "engine", port=proc.port, master_key=proc.master_key
                ).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with sessions() as s:
                pending = s.scalars(
                    select(OutboxEvent.id).where(OutboxEvent.processed_at.is_(None))
                ).all()
            if not pending:
                break
            time.sleep(0.2)
        assert not pending, f"{len(pending)} events never reached the index"
    finally:
        worker.stop()
    assert killed.is_set()
    with sessions() as s:
        names = {site.id: site.name for site in s.scalars(select(Site))}
        parked = s.scalars(select(OutboxEvent).where(OutboxEvent.parked_at.is_not(None))).all()
    assert parked == []
    indexed = httpx.post(
        f"{proc.url}/indexes/sites/documents/fetch",
        headers={"Authorization": f"Bearer {proc.master_key}"},
        json={"limit": 100, "fields": ["id", "name"]},
    ).json()["results"]
    assert {d["id"]: d["name"] for d in indexed} == names
    proc.stop()


def test_a_site_that_cannot_be_indexed_is_parked_and_spares_the_others(
    search_client, sessions, index, gazetteer
) -> None:
    from sqlalchemy import update

    from directory.outbox.sync import MAX_ATTEMPTS, run_once

    good = add_site(sessions, gazetteer, "Good", 45.76, 4.84)
    bad = add_site(sessions, gazetteer, "Bad", 45.77, 4.84)
    with transaction(sessions) as s:
        # Opening hours no parser reads, written behind the API's back: no document can be
        # built for this site.
        s.execute(update(Site).where(Site.id == bad).values(opening_hours="Mo-Fx nonsense"))
    for _ in range(MAX_ATTEMPTS):
        run_once(sessions, index, default_catalogue())
        with transaction(sessions) as s:  # let the backoff pass at once
            s.execute(update(OutboxEvent).values(available_at=None))
    assert ids(search_client.get("/v1/search", params={"lat": 45.76, "lng": 4.84})) == [good]
    with sessions() as s:
        events = s.scalars(select(OutboxEvent).where(OutboxEvent.entity_id == bad)).all()
        done = s.scalars(select(OutboxEvent).where(OutboxEvent.entity_id == good)).all()
    assert events and done  # the checks below hold for rows that exist
    assert all(e.parked_at is not None and e.attempts == MAX_ATTEMPTS for e in events)
    assert all("cannot build the document" in (e.last_error or "") for e in events)
    assert all(e.processed_at is not None for e in done)


def test_index_settings_are_applied_once(meili, meili_keys, index) -> None:
    def tasks() -> int:
        auth = {"Authorization": f"Bearer {meili.master_key}"}
        reply = httpx.get(f"{meili.url}/tasks", headers=auth)
        return int(reply.json()["total"])

    before = tasks()
    ensure_settings(meili.url, meili_keys.write)
    assert tasks() == before  # nothing to change: no settings task, no reindexing


def test_when_the_engine_is_unreachable_the_database_answers(
    settings, engine, sessions, gazetteer
) -> None:
    from directory.app import create_app

    add_site(sessions, gazetteer, "Still found", 45.76, 4.84)
    app = create_app(
        settings, engine=engine, meili_url="http://127.0.0.1:9", search_key="x", geocoder=gazetteer
    )
    app.on_shutdown.clear()
    with TestClient(app) as c:
        reply = c.get("/v1/search", params={"lat": 45.76, "lng": 4.84})
        assert reply.headers["x-search-backend"] == "database"
        assert [i["name"] for i in reply.json()["items"]] == ["Still found"]
        # Degraded, still serving: a load balancer must keep sending traffic here.
        ready = c.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "degraded",
            "checks": {"database": "ok", "search": "unavailable"},
        }
