"""Grid cells for the engine's region filters.

Each document carries the cell it lies in at a few sizes (``g0`` … ``g3``: 0.02°, 0.1°, 0.5°,
2.5° squares of latitude and longitude, as strings). A region is then ``g1 IN [...]``: the
engine answers an equality filter as a union of precomputed bitmaps, where a range on ``lat`` and
``lng`` walks its number tree for every search, over the whole index (the measured cost that
dominated a distance search, issue #14).

The cells asked for cover the region of ``nearest.region_clause`` (strips around the circle),
so they hold every point of the circle and a little more; exact geodesic distance then decides,
as before. Near the poles and across the antimeridian the numeric strips are kept.
"""

from __future__ import annotations

import math

__all__ = ["FIELDS", "MAX_CELLS", "SIZES", "cell_fields", "covering"]

SIZES = (0.02, 0.1, 0.5, 2.5)  # degrees: about 2, 11, 55 and 280 km of latitude
FIELDS = tuple(f"g{i}" for i in range(len(SIZES)))
# The most cells one filter names: finer cells fetch fewer points beyond the circle, more of
# them cost the engine more bitmaps to join (see bench/native_compare.py).
MAX_CELLS = 48


def _cell(lat: float, lng: float, size: float) -> str:
    return f"{math.floor(lat / size)}:{math.floor(lng / size)}"


def cell_fields(lat: float, lng: float) -> dict[str, str]:
    """A document's cells, one a size."""
    return {name: _cell(lat, lng, size) for name, size in zip(FIELDS, SIZES, strict=True)}


def covering(boxes: list[tuple[float, float, float, float]]) -> str | None:
    """A filter naming the cells that cover every (south, north, west, east) box, at the
    finest size that needs at most MAX_CELLS of them; None when boxes cross the antimeridian
    (the caller keeps its numeric ranges)."""
    if any(west < -180.0 or east > 180.0 for _, _, west, east in boxes):
        return None
    for name, size in zip(FIELDS, SIZES, strict=True):
        cells: set[tuple[int, int]] = set()
        for south, north, west, east in boxes:
            rows = range(math.floor(south / size), math.floor(north / size) + 1)
            columns = range(math.floor(west / size), math.floor(east / size) + 1)
            if len(rows) * len(columns) > MAX_CELLS:
                break  # too many at this size: try the next
            cells |= {(i, j) for i in rows for j in columns}
        else:
            if len(cells) > MAX_CELLS:
                continue
            listed = ", ".join(f'"{i}:{j}"' for i, j in sorted(cells))
            return f"{name} IN [{listed}]"
    return None
