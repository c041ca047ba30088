"""Rebuilding the index from the record, as an operator runs it (`atelier reindex`)."""

from __future__ import annotations

import httpx

from certifications.catalogue import default_catalogue
from directory.db import transaction
from directory.models import Site
from search.query import quote
from tests.conftest import drain
from tests.searching.test_search import add_site


def test_a_rebuild_with_the_services_own_key_swaps_in_and_keeps_changes_made_meanwhile(
    meili, meili_keys, index, sessions, gazetteer
) -> None:
    """`atelier reindex` as an operator runs it: the write key is limited to our indexes,
    which cannot read a swap's task (it names no index). A site renamed while the new index
    is being built must be searchable under its new name after the swap."""
    from directory.outbox.sync import reindex
    from search.index import INDEX

    made = [add_site(sessions, gazetteer, f"Garage {i}", 45.7 + i / 100, 4.8) for i in range(5)]
    drain(sessions, index)
    renamed = []

    def meanwhile(_: int) -> None:
        if not renamed:  # after the first chunk: this change goes to the old index only
            with transaction(sessions) as s:
                s.get(Site, made[-1]).name = "Renamed during the build"  # type: ignore[union-attr]
            renamed.append(made[-1])

    assert reindex(sessions, index, default_catalogue(), chunk=1, on_progress=meanwhile) == 5
    auth = {"Authorization": f"Bearer {meili.master_key}"}
    hit = httpx.post(
        f"{meili.url}/indexes/{INDEX}/search",
        headers=auth,
        json={"q": "", "filter": f"id = {quote(made[-1])}", "attributesToRetrieve": ["name"]},
    ).json()["hits"]
    assert hit == [{"name": "Renamed during the build"}]
    assert index.count() == 5
    names = [i["uid"] for i in httpx.get(f"{meili.url}/indexes", headers=auth).json()["results"]]
    assert [n for n in names if n.startswith(INDEX)] == [INDEX]  # the old one is gone
