"""The filter builder, without an engine: what each parameter asks of the index."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from certifications.catalogue import default_catalogue
from search.documents import field_key
from search.query import Origin, SearchContext, SearchQuery, build_filter, quote

NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)


def _ctx(
    own: frozenset[str] = frozenset(), open_at: datetime | None = None, **params
) -> SearchContext:  # type: ignore[no-untyped-def]
    query = SearchQuery(lat=45.76, lng=4.85, **params)
    return SearchContext(
        query=query,
        origin=Origin(lat=45.76, lng=4.85),
        cursor=None,
        valid_at=NOW,
        open_at=open_at,
        now=NOW,
        own=own,
    )


def test_only_active_sites_and_nothing_else_without_parameters() -> None:
    assert build_filter(_ctx(), default_catalogue()) == ['status = "active"']


def test_a_competence_is_a_window_that_holds_at_the_instant_asked() -> None:
    at = int(NOW.timestamp())
    key = field_key("fr.nfc18550.b1vl")
    clauses = build_filter(_ctx(competence=["fr.nfc18550.b1vl"]), default_catalogue())
    assert f"(comp.{key}.vf <= {at} AND comp.{key}.vu > {at})" in clauses
    declared = build_filter(
        _ctx(competence=["fr.nfc18550.b1vl"], include_declared=True), default_catalogue()
    )
    assert f"(comp.{key}.af <= {at} AND comp.{key}.au > {at})" in declared


def test_a_brand_also_finds_workshops_for_every_brand() -> None:
    clauses = build_filter(_ctx(brand=["renault"]), default_catalogue())
    assert '(brands = "renault" OR brands = "all")' in clauses


def test_a_private_network_is_searched_only_for_its_owner() -> None:
    mine = build_filter(_ctx(own=frozenset({"nw_a"}), network=["nw_a"]), default_catalogue())
    theirs = build_filter(_ctx(network=["nw_a"]), default_catalogue())
    assert '((pnetworks = "nw_a"))' in mine
    assert '((networks = "nw_a"))' in theirs and not any("pnetworks" in c for c in theirs)


def test_open_at_reads_the_instant_in_each_time_zone_of_the_index() -> None:
    clauses = build_filter(
        _ctx(open_at=NOW), default_catalogue(), ["Europe/Paris", "Europe/London"]
    )
    opening = clauses[-1]
    # 10:00 UTC on a Monday is 12:00 in Paris (CEST) and 11:00 in London (BST).
    assert '(tz = "Europe/Paris" AND ((oh.d0s0 <= 720 AND oh.d0e0 > 720)' in opening
    assert '(tz = "Europe/London" AND ((oh.d0s0 <= 660 AND oh.d0e0 > 660)' in opening
    assert build_filter(_ctx(open_at=NOW), default_catalogue(), [])[-1] == 'tz = "-"'


@given(st.text(max_size=40))
def test_quoted_text_never_leaves_its_string(text: str) -> None:
    quoted = quote(text)
    inner = quoted[1:-1]
    # Every quote inside is escaped, so the literal ends only at the last character.
    assert quoted[0] == quoted[-1] == '"'
    unescaped = inner.replace("\\\\", "").replace('\\"', "")
    assert '"' not in unescaped
