"""The search document, without HTTP or an engine: opening hours as local minutes of a typical
week, and competences as windows closed under implication."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from certifications.catalogue import default_catalogue
from certifications.competences import Holding
from search.cells import cell_fields
from search.documents import (
    FAR,
    SiteRecord,
    field_key,
    is_open,
    next_change,
    project,
    week_hours,
)


def test_a_working_week_becomes_one_interval_a_day_in_local_minutes() -> None:
    hours = week_hours("Mo-Fr 08:00-18:00; Sa 09:00-12:00")
    for day in range(5):
        assert (hours[f"d{day}s0"], hours[f"d{day}e0"]) == (480, 1080)
    assert (hours["d5s0"], hours["d5e0"]) == (540, 720)
    assert "d6s0" not in hours  # closed on Sunday
    assert "d0s1" not in hours  # one interval only


def test_an_evening_past_midnight_is_split_between_the_two_days() -> None:
    hours = week_hours("Fr 22:00-02:00")
    assert (hours["d4s0"], hours["d4e0"]) == (1320, 1440)
    assert (hours["d5s0"], hours["d5e0"]) == (0, 120)
    assert is_open(hours, 5, 90) and not is_open(hours, 5, 120)


_SPAN = st.tuples(st.integers(0, 23), st.sampled_from([0, 30]), st.integers(1, 14 * 60))


@given(
    st.lists(st.tuples(st.integers(0, 6), st.lists(_SPAN, min_size=1, max_size=2)), max_size=7),
    st.integers(0, 6),
    st.integers(0, 1439),
)
def test_the_next_change_is_the_first_minute_the_state_flips(days, day, minute) -> None:  # type: ignore[no-untyped-def]
    """Against a minute-by-minute walk of ``is_open`` over the coming week, with spans that
    run past midnight and a Sunday night that runs into Monday."""
    names = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
    rules = []
    for d, spans in days:
        times = []
        for hour, half, length in sorted(spans):
            start = hour * 60 + half
            end = start + length
            times.append(f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}")
        rules.append(f"{names[d]} {','.join(times)}")
    hours = week_hours("; ".join(rules) or None)
    state = is_open(hours, day, minute)
    flip = None
    for step in range(1, 7 * 1440 + 1):
        d, m = divmod(day * 1440 + minute + step, 1440)
        if is_open(hours, d % 7, m) != state:
            flip = (d - day, m)
            break
    assert next_change(hours, day, minute) == flip


def test_always_open_and_unknown_hours() -> None:
    always = week_hours("24/7")
    assert all(is_open(always, day, minute) for day in range(7) for minute in (0, 720, 1439))
    assert week_hours(None) == {}
    assert not is_open({}, 0, 600)


@given(st.integers(0, 6), st.integers(0, 1439))
def test_is_open_agrees_with_the_intervals_of_a_lunch_break(day: int, minute: int) -> None:
    hours = week_hours("Mo-Sa 08:00-12:00,14:00-18:00")
    expected = day < 6 and (480 <= minute < 720 or 840 <= minute < 1080)
    assert is_open(hours, day, minute) == expected


def _record() -> SiteRecord:
    return SiteRecord(
        id="st_test",
        version=3,
        name="Garage",
        organisation="Garage SARL",
        kind="independent",
        street=None,
        postcode="69003",
        city="Lyon",
        country="FR",
        lat=45.76,
        lng=4.85,
        timezone="Europe/Paris",
        opening_hours="Mo-Fr 08:00-18:00",
        brands=["renault"],
        vehicles=["car"],
        powertrains=["bev"],
        services=["diagnostics"],
        languages=["fr"],
        networks=[],
        status="active",
    )


def test_a_verified_higher_level_holds_the_levels_it_implies_with_its_own_window() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    until = now + timedelta(days=30)
    held = Holding(
        scheme="fr.nfc18550.b2vl",
        status="verified",
        holder_id="st_test",
        issuer="is_x",
        source="att_1",
        valid_from=now - timedelta(days=1),
        valid_until=until,
    )
    doc = project(_record(), [held], default_catalogue(), now)
    for scheme in ("fr.nfc18550.b2vl", "fr.nfc18550.b1vl", "fr.nfc18550.b1l", "fr.nfc18550.b0l"):
        window = doc.comp[field_key(scheme)]
        assert (window.vf, window.vu) == (int(held.valid_from.timestamp()), int(until.timestamp()))
        assert scheme in doc.competences
    assert field_key("fr.nfc18550.b2tl") not in doc.comp  # implication runs downwards only
    assert doc.v == 3 and doc.oh == week_hours("Mo-Fr 08:00-18:00")
    # Its grid cells, one a size, from its point (search/cells.py)
    assert (doc.g0, doc.g1, doc.g2, doc.g3) == tuple(cell_fields(doc.lat, doc.lng).values())
    assert doc.g1 == f"{math.floor(doc.lat / 0.1)}:{math.floor(doc.lng / 0.1)}"


def test_a_declared_claim_counts_only_in_the_declared_window() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    claim = Holding(
        scheme="eu.sermi.operator",
        status="declared",
        holder_id="st_test",
        source="cl_1",
        valid_from=now - timedelta(days=1),
    )
    doc = project(_record(), [claim], default_catalogue(), now)
    window = doc.comp[field_key("eu.sermi.operator")]
    assert (window.vf, window.vu) == (0, 0)  # never verified
    assert (window.af, window.au) == (int(claim.valid_from.timestamp()), FAR)
    assert doc.competences == []  # facets count verified competences only
