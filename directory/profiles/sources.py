"""What an import reads: the files (CSV, GeoJSON, JSON Lines), their columns, their rows as
raw records, each with its row number, or the reason it cannot be read."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "COLUMNS",
    "IDENTIFIER_COLUMNS",
    "LIST_COLUMNS",
    "RowError",
    "count_rows",
    "detect_format",
    "read_rows",
    "rows_from_records",
]

LIST_COLUMNS = ("brands", "vehicles", "powertrains", "services", "languages")
IDENTIFIER_COLUMNS = ("siren", "siret", "vat", "company-number")
COLUMNS = (
    "external_id",
    "organisation_external_id",
    "organisation_legal_name",
    "organisation_trade_name",
    "organisation_kind",
    *IDENTIFIER_COLUMNS,
    "organisation_website",
    "name",
    "street",
    "postcode",
    "city",
    "country",
    "lat",
    "lng",
    "timezone",
    "opening_hours",
    "phone",
    "email",
    "website",
    "booking_url",
    *LIST_COLUMNS,
    "status",
)


class RowError(ValueError):
    pass


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix in (".geojson", ".json"):
        return "geojson"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise RowError(f"{path.name}: unknown format (use .csv, .geojson or .jsonl)")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """(row number, raw record or the reason it cannot be read), in file order."""
    fmt = detect_format(path)
    if fmt == "csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            reader = csv.DictReader(fh, delimiter=delimiter)
            unknown = set(reader.fieldnames or ()) - set(COLUMNS)
            if unknown:
                raise RowError(f"unknown columns: {', '.join(sorted(unknown))}")
            for i, rec in enumerate(reader, start=2):  # row 1 is the header
                if None in rec:
                    yield i, RowError("more cells than columns")
                    continue
                yield i, {k: v for k, v in rec.items() if v not in (None, "")}
    elif fmt == "jsonl":
        with path.open(encoding="utf-8") as fh:
            for i, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as err:
                    yield i, RowError(f"not JSON: {err.msg}")
                    continue
                yield i, rec if isinstance(rec, dict) else RowError("a line must be a JSON object")
    else:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
            raise RowError("a GeoJSON file must hold one FeatureCollection")
        for i, feature in enumerate(doc.get("features", []), start=1):
            yield i, _from_feature(feature)


def _from_feature(feature: Any) -> dict[str, Any] | RowError:
    if not isinstance(feature, dict) or not isinstance(feature.get("properties"), dict):
        return RowError("a feature needs an object of properties")
    rec = dict(feature["properties"])
    geometry = feature.get("geometry")
    if geometry is not None:
        if geometry.get("type") != "Point" or len(geometry.get("coordinates") or ()) < 2:
            return RowError("geometry must be a Point")
        rec["lng"], rec["lat"] = geometry["coordinates"][:2]  # GeoJSON order is lng, lat
    return rec


def count_rows(path: Path) -> int:
    """Rows to expect, for the progress bar (cheap: one pass over the bytes)."""
    fmt = detect_format(path)
    if fmt == "geojson":
        doc = json.loads(path.read_text(encoding="utf-8"))
        return len(doc.get("features", [])) if isinstance(doc, dict) else 0
    with path.open("rb") as fh:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
    return max(lines - (1 if fmt == "csv" else 0), 0)


def rows_from_records(
    records: list[dict[str, Any]],
) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    return ((i, r) for i, r in enumerate(records, start=1))
