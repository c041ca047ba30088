"""Validation of profile input: property tests over the API and the field checks behind it."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from directory.profiles.validation import (
    check_identifier,
    check_opening_hours,
    check_postcode,
    check_url,
    normalise_phone,
)
from tests.conftest import SITE, table_snapshot

API = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@API
@given(
    lat=st.one_of(
        st.floats(min_value=90, exclude_min=True, allow_infinity=False),
        st.floats(max_value=-90, exclude_max=True, allow_infinity=False),
    )
)
def test_latitude_out_of_range_is_refused_with_its_pointer_and_writes_nothing(
    client: TestClient, admin: dict, organisation: dict, sessions, lat: float
) -> None:
    before = table_snapshot(sessions)
    reply = client.post(
        f"/v1/organisations/{organisation['id']}/sites",
        json={**SITE, "location": {"lat": lat, "lng": 2.0}},
        headers=admin,
    )
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["errors"][0]["pointer"] == "/location/lat"
    assert table_snapshot(sessions) == before


@API
@given(
    lng=st.one_of(
        st.floats(min_value=180, exclude_min=True, allow_infinity=False),
        st.floats(max_value=-180, exclude_max=True, allow_infinity=False),
    )
)
def test_longitude_out_of_range_is_refused(
    client: TestClient, admin: dict, organisation: dict, lng: float
) -> None:
    reply = client.post(
        f"/v1/organisations/{organisation['id']}/sites",
        json={**SITE, "location": {"lat": 45.0, "lng": lng}},
        headers=admin,
    )
    assert reply.status_code == 400
    assert reply.json()["errors"][0]["pointer"] == "/location/lng"


@API
@given(
    field=st.text(alphabet=string.ascii_lowercase + "_", min_size=1, max_size=20).filter(
        lambda f: f not in SITE and f not in ("email", "website", "booking_url", "status")
    )
)
def test_unknown_fields_are_refused(
    client: TestClient, admin: dict, organisation: dict, field: str
) -> None:
    reply = client.post(
        f"/v1/organisations/{organisation['id']}/sites", json={**SITE, field: "x"}, headers=admin
    )
    assert reply.status_code == 400
    assert reply.json()["errors"][0]["pointer"] == f"/{field}"


def test_every_semantic_error_is_reported_at_once(
    client: TestClient, admin: dict, organisation: dict, sessions
) -> None:
    before = table_snapshot(sessions)
    body = {
        **SITE,
        "address": {**SITE["address"], "postcode": "6903"},
        "phone": "+33 1 23",
        "opening_hours": "Mo-Fx 25:00-26:00",
        "timezone": "Mars/Olympus",
    }
    reply = client.post(f"/v1/organisations/{organisation['id']}/sites", json=body, headers=admin)
    assert reply.status_code == 400
    pointers = {e["pointer"] for e in reply.json()["errors"]}
    assert pointers == {"/address/postcode", "/phone", "/opening_hours", "/timezone"}
    assert table_snapshot(sessions) == before


def test_lists_and_strings_have_limits(client: TestClient, admin: dict, organisation: dict) -> None:
    url = f"/v1/organisations/{organisation['id']}/sites"
    too_many = {**SITE, "brands": [f"brand-{i}" for i in range(101)]}
    assert (
        client.post(url, json=too_many, headers=admin).json()["errors"][0]["pointer"] == "/brands"
    )
    too_long = {**SITE, "name": "x" * 201}
    assert client.post(url, json=too_long, headers=admin).json()["errors"][0]["pointer"] == "/name"


@given(st.from_regex(r"(?:0[1-9]|[1-8]\d|9[0-5])\d{3}", fullmatch=True))
def test_french_postcodes_of_five_digits_pass(code: str) -> None:
    assert check_postcode(code, "FR", "/p") == []


@given(st.text(max_size=8).filter(lambda s: not (len(s) == 5 and s.isascii() and s.isdigit())))
def test_anything_but_five_digits_is_not_a_french_postcode(code: str) -> None:
    assert check_postcode(code, "FR", "/p") != []


@given(st.text(max_size=10))
def test_postcodes_of_unknown_formats_are_not_second_guessed(code: str) -> None:
    assert check_postcode(code, "ZW", "/p") == []


@given(st.integers(min_value=10_000_000, max_value=99_999_999))  # 04 0x … is unallocated
def test_french_phone_numbers_normalise_to_e164_whatever_the_spelling(n: int) -> None:
    national = f"04{n:08d}"
    spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    e164, errors = normalise_phone(spaced, "FR", "/phone")
    assert errors == [] and e164 == "+334" + f"{n:08d}"
    assert normalise_phone("+33" + national[1:], "FR", "/phone")[0] == e164


@given(st.text(max_size=40))
def test_phone_parsing_never_crashes(raw: str) -> None:
    e164, errors = normalise_phone(raw, "FR", "/phone")
    assert (e164 is None) == bool(errors)
    assert e164 is None or e164.startswith("+")


@given(st.text(max_size=60))
def test_opening_hours_checking_never_crashes(expr: str) -> None:
    errors = check_opening_hours(expr, "/opening_hours")
    assert all(e.pointer == "/opening_hours" for e in errors)


@given(st.sampled_from(["http://", "https://", "ftp://", ""]), st.text(max_size=40))
def test_url_checking_never_crashes(scheme: str, rest: str) -> None:
    # "http://[x" (an unclosed IPv6 literal) once raised inside urlsplit: a 500.
    errors = check_url(scheme + rest, "/website")
    assert all(e.pointer == "/website" for e in errors)
    assert check_url("http://[x", "/website") and not check_url("https://[::1]/a", "/website")


def test_real_opening_hours_pass_and_nonsense_fails() -> None:
    for ok in (
        "24/7",
        "Mo-Fr 08:00-12:00,14:00-18:00; Sa 09:00-12:00; PH off",
        "Mo-Su 07:00-22:00",
    ):
        assert check_opening_hours(ok, "/oh") == []
    for bad in ("Mo-Fx 08:00-12:00", "open sometimes", "Mo 25:00-26:00"):
        assert check_opening_hours(bad, "/oh") != []


@given(st.from_regex(r"\d{8}", fullmatch=True))
def test_exactly_one_check_digit_completes_a_siren(body: str) -> None:
    valid = [d for d in "0123456789" if check_identifier("siren", body + d, "/i") == []]
    assert len(valid) == 1


def test_every_overseas_territory_is_found_by_postcode_and_location_and_has_real_codes() -> None:
    import zoneinfo

    import phonenumbers

    from directory.profiles.overseas import OVERSEAS, phone_regions, territory_of
    from directory.profiles.validation import default_timezone

    for t in OVERSEAS:
        south, north, west, east = t.box
        centre = ((south + north) / 2, (west + east) / 2)
        assert territory_of("FR", t.postcodes[0] + "0" * (5 - len(t.postcodes[0]))) == t
        assert territory_of("FR", None, centre) == t
        assert territory_of(t.region) == t  # registers that use the territory's own code
        assert zoneinfo.ZoneInfo(t.zone) and default_timezone("FR", None, centre) == t.zone
        assert t.region in phonenumbers.SUPPORTED_REGIONS
        assert phone_regions("FR", t.postcodes[0] + "00")[0] == t.region
    assert territory_of("FR", "69003", (45.76, 4.84)) is None
    assert default_timezone("FR", "69003") == "Europe/Paris"
    assert phone_regions("DE") == ["DE"]


def test_api_sites_in_overseas_france_keep_their_phone_and_zone(
    client: TestClient, admin: dict, organisation: dict
) -> None:
    body = {
        "name": "Garage du Port",
        "address": {"city": "Le Port", "postcode": "97420", "country": "FR"},
        "location": {"lat": -20.93, "lng": 55.29},
        "phone": "0262 98 33 41",
    }
    reply = client.post(f"/v1/organisations/{organisation['id']}/sites", json=body, headers=admin)
    assert reply.status_code == 201, reply.text
    assert (reply.json()["phone"], reply.json()["timezone"]) == ("+262262983341", "Indian/Reunion")
