"""The index: its settings as code, its keys, and the writes the sync worker makes.

Settings are applied idempotently at start-up. The search path gets a search-only key; only the
sync worker holds a write key; the master key is used here, at start-up, and nowhere else.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import meilisearch
import msgspec
from meilisearch.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchTimeoutError,
)

from search.documents import SiteDocument
from search.errors import EngineRefused, EngineUnavailable

__all__ = [
    "INDEX",
    "SETTINGS",
    "IndexWriter",
    "Keys",
    "ensure_keys",
    "ensure_settings",
]

log = logging.getLogger("atelier.search.index")
INDEX = "sites"
TASK_TIMEOUT_MS = 120_000

SETTINGS: dict[str, Any] = {
    "searchableAttributes": ["name", "organisation", "city", "services", "brands", "postcode"],
    # Only what queries use, each with only the operations it needs (comparisons cost more).
    "filterableAttributes": [
        {
            "attributePatterns": ["lat", "lng", "comp.*", "oh.*"],
            "features": {"facetSearch": False, "filter": {"equality": False, "comparison": True}},
        },
        {
            "attributePatterns": [
                "status",
                "brands",
                "vehicles",
                "powertrains",
                "services",
                "networks",
                "pnetworks",
                "competences",
                "domains",
                "tz",
                "id",
                "g0",
                "g1",
                "g2",
                "g3",
            ],
            "features": {"facetSearch": False, "filter": {"equality": True, "comparison": False}},
        },
    ],
    "facetSearch": False,
    "sortableAttributes": [],
    "displayedAttributes": ["*"],
    "rankingRules": ["words", "typo", "proximity", "attribute", "sort", "exactness"],
    "typoTolerance": {
        "enabled": True,
        # Postcodes, ids and scheme codes must match exactly: "69003" is not "69008".
        "disableOnAttributes": ["postcode"],
        "disableOnNumbers": True,
        "minWordSizeForTypos": {"oneTypo": 4, "twoTypos": 8},
    },
    "synonyms": {
        "garage": ["atelier", "workshop"],
        "atelier": ["garage", "workshop"],
        "workshop": ["garage", "atelier"],
        "ve": ["ev", "électrique", "electrique"],
        "ev": ["ve", "électrique", "electric"],
        "électrique": ["ev", "ve", "electric"],
        "electric": ["ev", "électrique"],
        "clim": ["climatisation", "air_conditioning"],
        "climatisation": ["clim"],
        "carrosserie": ["bodyshop", "body_repair"],
        "pneus": ["tyres"],
        "pneu": ["tyres"],
    },
    # Deep cursors: the API pages with offsets, so the engine must count far enough.
    "pagination": {"maxTotalHits": 10_000},
    "faceting": {"maxValuesPerFacet": 200},
}


@contextlib.contextmanager
def _engine_calls() -> Iterator[None]:
    """The client library's errors as ours: unreachable or 5xx is EngineUnavailable (retry
    later), any other answer that says no is EngineRefused."""
    try:
        yield
    except (MeilisearchCommunicationError, MeilisearchTimeoutError) as err:
        raise EngineUnavailable(str(err)) from err
    except MeilisearchApiError as err:
        unreachable = err.status_code is None or err.status_code >= 500
        raise (EngineUnavailable if unreachable else EngineRefused)(str(err)) from err


class Keys(msgspec.Struct, frozen=True):
    search: str
    write: str


def _client(url: str, key: str) -> meilisearch.Client:
    # No compressed answers: Meilisearch spends ~40 ms compressing each one (measured), which
    # would be paid on every task poll of the sync worker.
    return meilisearch.Client(url, key, timeout=30, custom_headers={"Accept-Encoding": "identity"})


@_engine_calls()
def ensure_keys(url: str, master_key: str, index_prefix: str = INDEX) -> Keys:
    """A search-only key and a write key for our indexes, created once (stable uids)."""
    client = _client(url, master_key)
    specs = {
        "search": (["search"], "Atelier search path: read-only"),
        "write": (
            ["documents.*", "indexes.*", "settings.*", "tasks.get", "stats.get"],
            "Atelier sync worker: writes the index",
        ),
    }
    found = {}
    for name, (actions, description) in specs.items():
        uid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"atelier:{index_prefix}:{name}"))
        try:
            key = client.get_key(uid)
        except MeilisearchApiError:
            key = client.create_key(
                {
                    "uid": uid,
                    "name": f"atelier-{name}",
                    "description": description,
                    "actions": actions,
                    "indexes": [f"{index_prefix}*"],
                    "expiresAt": None,
                }
            )
        found[name] = key.key
    # Swapping indexes needs indexes.swap on both; the write key has indexes.* for that.
    return Keys(search=found["search"], write=found["write"])


@_engine_calls()
def ensure_settings(url: str, write_key: str, index: str = INDEX) -> None:
    """Create the index if needed and apply SETTINGS (a no-op when they already hold)."""
    client = _client(url, write_key)
    try:
        client.get_index(index)
    except MeilisearchApiError:
        _wait(client, client.create_index(index, {"primaryKey": "id"}).task_uid)
    current = client.index(index).get_settings()
    wanted = {k: v for k, v in SETTINGS.items() if not _covers(current.get(k), v)}
    if wanted:
        _wait(client, client.index(index).update_settings(SETTINGS).task_uid)
        log.info("index settings applied", extra={"index": index, "changed": sorted(wanted)})


def _covers(current: Any, wanted: Any) -> bool:
    """The engine echoes settings with its own defaults added: compare what we set only."""
    if isinstance(wanted, dict) and isinstance(current, dict):
        return all(_covers(current.get(k), v) for k, v in wanted.items())
    return bool(current == wanted)


def _wait(client: meilisearch.Client, task_uid: int) -> None:
    task = client.wait_for_task(task_uid, timeout_in_ms=TASK_TIMEOUT_MS, interval_in_ms=20)
    if task.status != "succeeded":
        raise EngineRefused(f"task {task_uid} {task.status}: {task.error}")


class IndexWriter:
    """Writes documents and waits for Meilisearch to have applied them."""

    def __init__(self, url: str, write_key: str, index: str = INDEX) -> None:
        self.url, self.key, self.index = url, write_key, index
        self.client = _client(url, write_key)

    @_engine_calls()
    def apply(
        self, documents: Sequence[SiteDocument], deletions: Sequence[str], index: str | None = None
    ) -> None:
        target = self.client.index(index or self.index)
        if documents:
            self.wait(self.send(documents, index or self.index))
        if deletions:
            ids = ", ".join('"' + d + '"' for d in deletions)  # ids are our own st_… values
            _wait(self.client, target.delete_documents(filter=f"id IN [{ids}]").task_uid)

    @_engine_calls()
    def send(self, documents: Sequence[SiteDocument], index: str) -> int:
        """Queues documents without waiting; ``wait`` for the task uid returned. The engine
        indexes consecutive additions to one index as one batch."""
        payload = msgspec.json.decode(msgspec.json.encode(list(documents)))
        return int(self.client.index(index).add_documents(payload, primary_key="id").task_uid)

    @_engine_calls()
    def wait(self, task_uid: int) -> None:
        _wait(self.client, task_uid)

    @_engine_calls()
    def swap(self, a: str, b: str) -> None:
        """Swaps two indexes and waits until ``a`` is what ``b`` was. A swap's task names no
        index, so a key limited to our indexes cannot read it (task_not_found, seen with
        Meilisearch 1.21: `atelier reindex` failed after swapping, before replaying the changes
        made during the build); the swap is seen instead by ``a`` taking ``b``'s creation date."""
        created = self.client.get_raw_index(b)["createdAt"]
        self.client.swap_indexes([{"indexes": [a, b]}])
        deadline = time.monotonic() + TASK_TIMEOUT_MS / 1000
        while self.client.get_raw_index(a)["createdAt"] != created:
            if time.monotonic() > deadline:
                raise EngineRefused(
                    f"the swap of {a} and {b} was not seen within {TASK_TIMEOUT_MS // 1000} s;"
                    " the engine's task list (master key) says why"
                )
            time.sleep(0.02)

    def drop(self, index: str) -> None:
        with contextlib.suppress(MeilisearchApiError, EngineRefused):  # already gone is fine
            _wait(self.client, self.client.delete_index(index).task_uid)

    @_engine_calls()
    def count(self, index: str | None = None) -> int:
        return int(self.client.index(index or self.index).get_stats().number_of_documents)
