"""Bulk import of sites from CSV, GeoJSON or JSON Lines: idempotent upsert by (source, external_id).

Each row is checked exactly as the API checks a request, then written inside its own savepoint, so
a bad row is reported and skipped and never leaves a half-written organisation or site.

Unlike the API, one bad *optional* field (a phone, an email, opening hours, a list of brands …)
does not cost the row: registers are what they are, and a workshop without its phone is still a
workshop drivers can find. The row is imported without that field, and the report names the
field and why (the API keeps refusing the request, with the pointer).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from directory.errors import DomainError, FieldError, InvalidInput
from directory.models import Organisation, OrganisationIdentifier, Site
from directory.profiles.schemas import OrganisationCreate, SiteCreate
from directory.profiles.service import apply_site, validate_site
from directory.profiles.sources import (
    COLUMNS,
    IDENTIFIER_COLUMNS,
    LIST_COLUMNS,
    RowError,
    count_rows,
    read_rows,
    rows_from_records,
)
from directory.profiles.validation import check_identifier
from search.geocode import Geocoder

__all__ = [
    "COLUMNS",
    "ImportReport",
    "LeftOut",
    "Rejection",
    "count_rows",
    "import_file",
    "import_rows",
    "read_rows",
    "rows_from_records",
]

# Fields a site is whole without: a bad value is left out, not the row.
OPTIONAL = frozenset(
    {"timezone", "opening_hours", "phone", "email", "website", "booking_url", *LIST_COLUMNS}
)
MAX_ROWS = 2_000_000
MAX_CELL = 4096


class Rejection(msgspec.Struct):
    row: int
    external_id: str | None
    reason: str


class LeftOut(msgspec.Struct):
    """An optional field a row was imported without."""

    row: int
    external_id: str | None
    field: str
    reason: str


class ImportReport(msgspec.Struct):
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[Rejection] = msgspec.field(default_factory=list)
    left_out: list[LeftOut] = msgspec.field(default_factory=list)

    def summary(self) -> str:
        return (
            f"imported {self.imported}, updated {self.updated}, rejected {len(self.rejected)}"
            f" ({self.unchanged} unchanged); {len(self.left_out)} optional fields left out"
        )


# --- one row --------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.replace("|", ";").split(";") if v.strip()]
    return list(value) if isinstance(value, list) else [value]


Parsed = tuple[str, str, OrganisationCreate, SiteCreate, list[tuple[str, str]]]


def parse_row(rec: dict[str, Any]) -> Parsed:
    """The row's ids, its organisation and site (checked by the same Structs as the API), and
    the optional fields left out of the site, each with its reason."""
    unknown = set(rec) - set(COLUMNS)
    if unknown:
        raise RowError(f"unknown fields: {', '.join(sorted(unknown))}")
    for key, value in rec.items():
        if isinstance(value, str) and len(value) > MAX_CELL:
            raise RowError(f"{key}: longer than {MAX_CELL} characters")
    external_id = str(rec.get("external_id") or "").strip()
    if not external_id or len(external_id) > 128:
        raise RowError("external_id is required (1 to 128 characters)")
    org_external = str(rec.get("organisation_external_id") or external_id).strip()[:128]
    identifiers = [
        {"scheme": s, "value": str(rec[s]).replace(" ", "").upper()}
        for s in IDENTIFIER_COLUMNS
        if rec.get(s)
    ]
    org = {
        "legal_name": rec.get("organisation_legal_name") or rec.get("name"),
        "trade_name": rec.get("organisation_trade_name"),
        "kind": rec.get("organisation_kind") or "independent",
        "identifiers": identifiers,
        "website": rec.get("organisation_website"),
    }
    location = None
    if rec.get("lat") not in (None, "") or rec.get("lng") not in (None, ""):
        location = {"lat": rec.get("lat"), "lng": rec.get("lng")}
    site: dict[str, Any] = {
        "name": rec.get("name"),
        "address": {k: rec.get(k) for k in ("street", "postcode", "city", "country")},
        "location": location,
        **{
            k: rec.get(k)
            for k in ("timezone", "opening_hours", "phone", "email", "website", "booking_url")
        },
        **{k: [str(x).strip().lower() for x in _as_list(rec.get(k))] for k in LIST_COLUMNS},
        "status": rec.get("status") or "active",
    }
    site["address"] = {k: v for k, v in site["address"].items() if v not in (None, "")}
    try:
        org_in = msgspec.convert(
            {k: v for k, v in org.items() if v is not None}, OrganisationCreate, strict=False
        )
    except msgspec.ValidationError as err:
        raise RowError(_readable(str(err))) from err
    site_in, left_out = _site_leaving_out({k: v for k, v in site.items() if v is not None})
    problems: list[FieldError] = []
    for ident in org_in.identifiers:
        problems += check_identifier(ident.scheme, ident.value, ident.scheme)
    if problems:
        raise RowError("; ".join(f"{p.pointer}: {p.detail}" for p in problems))
    return external_id, org_external, org_in, site_in, left_out


_FIELD = re.compile(r"^`?\$?\.?([a-z_]+)")


def _site_leaving_out(data: dict[str, Any]) -> tuple[SiteCreate, list[tuple[str, str]]]:
    """The site, without each optional field whose value its type refuses."""
    left_out: list[tuple[str, str]] = []
    while True:
        try:
            return msgspec.convert(data, SiteCreate, strict=False), left_out
        except msgspec.ValidationError as err:
            readable = _readable(str(err))
            field = _FIELD.match(readable.strip("`"))
            name = field.group(1) if field else ""
            if name not in OPTIONAL or name not in data:
                raise RowError(readable) from err
            left_out.append((name, readable.partition(": ")[2] or readable))
            del data[name]


def _readable(message: str) -> str:
    """msgspec's '… - at `$.address.city`' read as 'address.city: …'."""
    text, _, where = message.partition(" - at `$")
    return f"{where.rstrip('`').lstrip('.')}: {text}" if where else text


def _reason(err: Exception) -> str:
    if isinstance(err, DomainError) and err.errors:
        return "; ".join(
            f"{e.pointer.lstrip('/').replace('/', '.')}: {e.detail}" for e in err.errors
        )
    return str(err)


# --- writing --------------------------------------------------------------------------------------


class _Chunk:
    """What one chunk needs from the database, fetched with one query per kind, not per row."""

    def __init__(
        self,
        session: Session,
        source: str,
        parsed: list[tuple[int, *Parsed]],
    ) -> None:
        self.sites = {
            s.external_id: s
            for s in session.scalars(
                select(Site).where(
                    Site.source == source, Site.external_id.in_({p[1] for p in parsed})
                )
            )
        }
        self.orgs = {
            o.external_id: o
            for o in session.scalars(
                select(Organisation).where(
                    Organisation.source == source,
                    Organisation.external_id.in_({p[2] for p in parsed}),
                )
            )
        }
        self.by_id = {o.id: o for o in self.orgs.values()}
        wanted = {(i.scheme, i.value) for p in parsed for i in p[3].identifiers}
        self.owners: dict[tuple[str, str], str] = {}
        if wanted:
            self.owners = {
                (sc, v): oid
                for sc, v, oid in session.execute(
                    select(
                        OrganisationIdentifier.scheme,
                        OrganisationIdentifier.value,
                        OrganisationIdentifier.organisation_id,
                    ).where(
                        tuple_(OrganisationIdentifier.scheme, OrganisationIdentifier.value).in_(
                            wanted
                        )
                    )
                )
            }


def _upsert(
    session: Session,
    geocoder: Geocoder,
    source: str,
    known: _Chunk,
    ext: str,
    org_ext: str,
    org_in: OrganisationCreate,
    site_in: SiteCreate,
    left_out: list[tuple[str, str]],
) -> str:
    """Write one row; every check that can refuse it runs before anything is changed. Optional
    fields the checks refuse are left out (appended to ``left_out``) and the site checked again."""
    site = known.sites.get(ext)
    try:
        values = validate_site(site_in, geocoder, previous=site)
    except InvalidInput as err:
        fields = {e.pointer.split("/")[1] for e in err.errors if e.pointer.count("/") >= 1}
        if not err.errors or not fields <= OPTIONAL:
            raise
        left_out += [(e.pointer.split("/")[1], e.detail) for e in err.errors]
        empty: dict[str, Any] = {f: [] if f in LIST_COLUMNS else None for f in fields}
        values = validate_site(msgspec.structs.replace(site_in, **empty), geocoder, previous=site)
    wanted = [(i.scheme, i.value) for i in org_in.identifiers]
    org = known.orgs.get(org_ext)
    if org is None:
        # An organisation already known by a registration number (from another source, or the
        # API) is the same legal entity: attach to it rather than duplicating it.
        owner = next((known.owners[k] for k in wanted if k in known.owners), None)
        org = (known.by_id.get(owner) or session.get(Organisation, owner)) if owner else None
    org_id = org.id if org is not None else None
    for scheme, value in wanted:
        owner = known.owners.get((scheme, value))
        if owner is not None and owner != org_id:
            raise RowError(f"{scheme} {value} is registered to another organisation")
    if org is None:
        org = Organisation(
            source=source,
            external_id=org_ext,
            legal_name=org_in.legal_name,
            trade_name=org_in.trade_name,
            kind=org_in.kind,
            website=org_in.website,
        )
        session.add(org)
    else:
        for field in ("legal_name", "trade_name", "kind", "website"):
            if getattr(org, field) != getattr(org_in, field):
                setattr(org, field, getattr(org_in, field))
    current = {(i.scheme, i.value) for i in org.identifiers}
    for scheme, value in wanted:
        if (scheme, value) not in current:
            org.identifiers.append(OrganisationIdentifier(scheme=scheme, value=value))
        known.owners[(scheme, value)] = org.id
    known.orgs[org_ext] = org
    known.by_id[org.id] = org  # pending until the flush, so session.get() could not find it
    if site is None:
        known.sites[ext] = Site(organisation=org, source=source, external_id=ext, **values)
        session.add(known.sites[ext])
        return "imported"
    if site.organisation_id != org.id:
        site.organisation = org
    apply_site(site, values)
    return "updated" if session.is_modified(site) or session.is_modified(org) else "unchanged"


def _apply_chunk(
    session: Session,
    geocoder: Geocoder,
    source: str,
    parsed: list[tuple[int, *Parsed]],
    report: ImportReport,
    *,
    savepoints: bool,
) -> None:
    known = _Chunk(session, source, parsed)
    with session.no_autoflush:
        for row, ext, org_ext, org_in, site_in, read_left_out in parsed:
            left_out = list(read_left_out)
            try:
                if savepoints:
                    with session.begin_nested():
                        outcome = _upsert(
                            session,
                            geocoder,
                            source,
                            known,
                            ext,
                            org_ext,
                            org_in,
                            site_in,
                            left_out,
                        )
                        session.flush()
                else:
                    outcome = _upsert(
                        session, geocoder, source, known, ext, org_ext, org_in, site_in, left_out
                    )
            except (RowError, DomainError, IntegrityError) as err:
                if savepoints:
                    known = _Chunk(session, source, parsed)  # the savepoint undid some of it
                report.rejected.append(Rejection(row, ext, _reason(err)))
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
            report.left_out += [LeftOut(row, ext, field, why) for field, why in left_out]


def _write_chunk(
    sessions: sessionmaker[Session],
    geocoder: Geocoder,
    batch: list[tuple[int, dict[str, Any] | RowError]],
    source: str,
    report: ImportReport,
    on_rows: Callable[[int], None] | None,
) -> None:
    """Write a chunk in one flush; if the database still refuses a row, redo it row by row."""
    partial = ImportReport()
    parsed: list[tuple[int, *Parsed]] = []
    for row, rec in batch:
        try:
            if isinstance(rec, RowError):
                raise rec
            parsed.append((row, *parse_row(rec)))
        except RowError as err:
            ext = rec.get("external_id") if isinstance(rec, dict) else None
            partial.rejected.append(Rejection(row, str(ext) if ext else None, str(err)))
    try:
        attempt = ImportReport()
        with sessions() as session, session.begin():
            _apply_chunk(session, geocoder, source, parsed, attempt, savepoints=False)
    except IntegrityError:
        # A constraint the checks could not foresee (a concurrent writer, most likely): each row
        # now gets its own savepoint, so only the offending one is refused.
        attempt = ImportReport()
        with sessions() as session, session.begin():
            _apply_chunk(session, geocoder, source, parsed, attempt, savepoints=True)
    report.imported += attempt.imported
    report.updated += attempt.updated
    report.unchanged += attempt.unchanged
    report.rejected += sorted(partial.rejected + attempt.rejected, key=lambda r: r.row)
    report.left_out += attempt.left_out
    if on_rows:
        on_rows(len(batch))


def import_rows(
    sessions: sessionmaker[Session],
    geocoder: Geocoder,
    rows: Iterator[tuple[int, dict[str, Any] | RowError]],
    source: str,
    *,
    chunk: int = 500,
    on_rows: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    batch: list[tuple[int, dict[str, Any] | RowError]] = []
    for n, item in enumerate(rows, start=1):
        if n > MAX_ROWS:
            report.rejected.append(Rejection(item[0], None, f"more than {MAX_ROWS} rows"))
            break
        batch.append(item)
        if len(batch) >= chunk:
            _write_chunk(sessions, geocoder, batch, source, report, on_rows)
            batch = []
    if batch:
        _write_chunk(sessions, geocoder, batch, source, report, on_rows)
    return report


def import_file(
    sessions: sessionmaker[Session],
    geocoder: Geocoder,
    path: Path,
    source: str | None = None,
    *,
    on_rows: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import one file; ``source`` defaults to the file's name without extension."""
    return import_rows(sessions, geocoder, read_rows(path), source or path.stem, on_rows=on_rows)


def write_report(report: ImportReport, path: Path) -> None:
    """One line per rejected row and per optional field left out, in row order."""
    lines: list[tuple[int, str, str, str, str]] = [
        (r.row, r.external_id or "", "rejected", "", r.reason) for r in report.rejected
    ]
    lines += [(f.row, f.external_id or "", "left out", f.field, f.reason) for f in report.left_out]
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(["row", "external_id", "outcome", "field", "reason"])
    lines.sort(key=lambda line: line[0])
    out.writerows(lines)
    path.write_text(buf.getvalue(), encoding="utf-8")
