"""The totals of recent distance searches, to size a new one's first circle before its count.

A distance search needs the number of matches in its radius to size its first circle (see
``nearest``); asked first, that count costs a round trip before the circle can be. Searches
repeat: the same job around the same town at the same radius. When one like it was answered
a little earlier, its total sizes the first circle, and the count and the circle go to the
engine together in one request. A guess never changes an answer, only what it costs: each
circle's matches are complete whatever its size, and a circle that held too few or too many
is followed by the same next steps as one sized by the count.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable

from search.cells import SIZES, cell_of

__all__ = ["RecentTotals"]

CELL_DEG = SIZES[2]  # about 55 km: densities vary less than this between two searches in one


class RecentTotals:
    """Per process: totals by (what was asked, 0.5° cell of the origin, radius), the
    ``size`` most recent, each trusted ``ttl_s``."""

    def __init__(self, size: int = 4096, ttl_s: float = 300.0) -> None:
        self._seen: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()
        self._size, self._ttl_s = size, ttl_s

    @staticmethod
    def key(asked: Hashable, lat: float, lng: float, radius_m: float) -> Hashable:
        return (asked, cell_of(lat, lng, CELL_DEG), round(radius_m))

    def guess(self, key: Hashable) -> int | None:
        seen = self._seen.get(key)
        if seen is None or time.monotonic() - seen[0] > self._ttl_s:
            return None
        return seen[1]

    def __len__(self) -> int:
        return len(self._seen)

    def learn(self, key: Hashable, total: int) -> None:
        self._seen[key] = (time.monotonic(), total)
        self._seen.move_to_end(key)
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
