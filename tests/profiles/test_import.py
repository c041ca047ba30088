"""Bulk import: good rows land, bad rows are reported, a repeated file changes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from directory.cli import main
from directory.models import Organisation, OrganisationIdentifier, OutboxEvent, Site
from directory.profiles.importer import COLUMNS, import_file

GOOD = [
    {
        "external_id": "a1",
        "organisation_legal_name": "Garage Martin SARL",
        "siren": "552100554",
        "name": "Garage Martin",
        "street": "12 rue de la Gare",
        "postcode": "69003",
        "city": "Lyon",
        "country": "FR",
        "lat": "45.7597",
        "lng": "4.859",
        "phone": "04 78 12 34 56",
        "opening_hours": "Mo-Fr 08:00-18:00",
        "brands": "Renault;Dacia",
        "services": "diagnostics;tyres",
    },
    {
        "external_id": "a2",
        "organisation_external_id": "martin",
        "organisation_legal_name": "Garage Martin SARL",
        "siren": "552100554",
        "name": "Garage Martin Villeurbanne",
        "postcode": "69100",
        "city": "Villeurbanne",
        "country": "FR",
    },
    {
        "external_id": "b1",
        "organisation_legal_name": "Autohaus Berg GmbH",
        "name": "Autohaus Berg",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        "organisation_kind": "dealer",
        "vehicles": "car;van",
        "powertrains": "bev;phev",
    },
]
BAD = [
    {
        "external_id": "x1",
        "organisation_legal_name": "Bad Lat",
        "name": "Bad",
        "city": "Lyon",
        "country": "FR",
        "lat": "123",
        "lng": "4",
    },
    {
        "external_id": "",
        "organisation_legal_name": "No id",
        "name": "Bad",
        "city": "Lyon",
        "country": "FR",
    },
    {
        "external_id": "x5",
        "organisation_legal_name": "Nowhere",
        "name": "Bad",
        "city": "Atlantis-sur-Mer",
        "country": "FR",
    },
    {
        "external_id": "x6",
        "organisation_legal_name": "Bad SIREN",
        "siren": "552100555",
        "name": "Bad",
        "city": "Lyon",
        "postcode": "69003",
        "country": "FR",
    },
]


# Rows whole but for one optional field: imported without it, the field reported.
LEFT_OUT = [
    {
        "external_id": "x2",
        "organisation_legal_name": "Bad Phone",
        "name": "Half good",
        "city": "Lyon",
        "postcode": "69003",
        "country": "FR",
        "phone": "12",
        "email": "garage@lyon.fr",
    },
    {
        "external_id": "x3",
        "organisation_legal_name": "Bad Hours",
        "name": "Half good",
        "city": "Lyon",
        "postcode": "69003",
        "country": "FR",
        "opening_hours": "whenever",
        "email": "not an address",
        "services": "tyres;teleportation",
    },
]
# Overseas France as French registers write it: country FR, national numbers, 97xxx postcodes.
OVERSEAS = [
    {
        "external_id": "re1",
        "organisation_legal_name": "Garage du Port",
        "name": "Garage du Port",
        "postcode": "97420",
        "city": "Le Port",
        "country": "FR",
        "lat": "-20.9",
        "lng": "55.7",
        "phone": "0262 98 33 41",
    },
    {
        "external_id": "yt1",
        "organisation_legal_name": "Mayotte Auto",
        "name": "Mayotte Auto",
        "postcode": "97600",
        "city": "Mamoudzou",
        "country": "FR",
        "lat": "-12.78",
        "lng": "45.23",
        "phone": "0639 69 00 00",
    },
    {
        "external_id": "gp1",  # no postcode: the location says Guadeloupe
        "organisation_legal_name": "Garage des Abymes",
        "name": "Garage des Abymes",
        "city": "Les Abymes",
        "country": "FR",
        "lat": "16.27",
        "lng": "-61.5",
        "phone": "0590 84 00 00",
    },
]


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def counts(sessions) -> tuple[int, int, int]:
    with sessions() as s:
        return (
            s.scalar(select(func.count()).select_from(Site)),
            s.scalar(select(func.count()).select_from(Organisation)),
            s.scalar(select(func.count()).select_from(OutboxEvent)),
        )


def test_good_rows_import_and_bad_rows_are_reported(sessions, gazetteer, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "garages.csv", GOOD[:1] + BAD + GOOD[1:])
    report = import_file(sessions, gazetteer, path)
    assert (report.imported, report.updated, len(report.rejected)) == (3, 0, len(BAD))
    reasons = {r.external_id: r.reason for r in report.rejected}
    assert "location.lat" in reasons["x1"] and "external_id" in reasons[None]
    assert "geocoded" in reasons["x5"] and "check digit" in reasons["x6"]
    assert [r.row for r in report.rejected] == list(range(3, 3 + len(BAD)))  # header is row 1
    with sessions() as s:
        martin = s.scalars(select(Site).where(Site.external_id == "a1")).one()
        assert martin.phone == "+33478123456" and martin.brands == ["dacia", "renault"]
        assert martin.source == "garages"
        # Same SIREN, two rows: one organisation with two sites.
        villeurbanne = s.scalars(select(Site).where(Site.external_id == "a2")).one()
        assert villeurbanne.organisation_id == martin.organisation_id
        assert villeurbanne.location_source == "gazetteer"
        assert s.scalar(select(func.count()).select_from(OrganisationIdentifier)) == 1
    assert counts(sessions)[:2] == (3, 2)


def test_one_bad_optional_field_costs_that_field_not_the_row(
    sessions, gazetteer, tmp_path: Path
) -> None:
    report = import_file(sessions, gazetteer, write_csv(tmp_path / "half.csv", LEFT_OUT))
    assert (report.imported, len(report.rejected)) == (2, 0), report.rejected
    left = {(f.external_id, f.field) for f in report.left_out}
    assert left == {("x2", "phone"), ("x3", "opening_hours"), ("x3", "email"), ("x3", "services")}
    assert all(f.reason and f.row in (2, 3) for f in report.left_out)
    with sessions() as s:
        phone_row = s.scalars(select(Site).where(Site.external_id == "x2")).one()
        assert phone_row.phone is None and phone_row.email == "garage@lyon.fr"
        hours_row = s.scalars(select(Site).where(Site.external_id == "x3")).one()
        assert hours_row.opening_hours is None and hours_row.services == []


def test_overseas_france_is_france(sessions, gazetteer, tmp_path: Path) -> None:
    report = import_file(sessions, gazetteer, write_csv(tmp_path / "dom.csv", OVERSEAS))
    assert (report.imported, report.rejected, report.left_out) == (3, [], [])
    with sessions() as s:
        sites = {x.external_id: x for x in s.scalars(select(Site))}
    assert (sites["re1"].phone, sites["re1"].timezone) == ("+262262983341", "Indian/Reunion")
    assert (sites["yt1"].phone, sites["yt1"].timezone) == ("+262639690000", "Indian/Mayotte")
    assert (sites["gp1"].phone, sites["gp1"].timezone) == ("+590590840000", "America/Guadeloupe")


def test_a_repeated_file_changes_nothing_and_an_edited_one_updates(
    sessions, gazetteer, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "g.csv", GOOD)
    assert import_file(sessions, gazetteer, path).imported == 3
    before = counts(sessions)
    again = import_file(sessions, gazetteer, path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 3)
    assert counts(sessions) == before  # not even an outbox event
    edited = [dict(GOOD[0], name="Garage Martin & Fils"), *GOOD[1:]]
    third = import_file(sessions, gazetteer, write_csv(tmp_path / "g.csv", edited))
    assert (third.imported, third.updated, third.unchanged) == (0, 1, 2)
    assert counts(sessions)[:2] == before[:2]


def test_the_same_ids_from_another_source_are_other_sites(sessions, gazetteer, tmp_path) -> None:
    import_file(sessions, gazetteer, write_csv(tmp_path / "one.csv", GOOD[2:]))
    import_file(sessions, gazetteer, write_csv(tmp_path / "two.csv", GOOD[2:]))
    assert counts(sessions)[0] == 2


def test_geojson_and_json_lines_share_the_layout(sessions, gazetteer, tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [4.859, 45.7597]},
            "properties": {k: v for k, v in GOOD[0].items() if k not in ("lat", "lng")},
        },
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": []},
            "properties": {"external_id": "line"},
        },
    ]
    geo = tmp_path / "sites.geojson"
    geo.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    report = import_file(sessions, gazetteer, geo)
    assert report.imported == 1 and report.rejected[0].reason == "geometry must be a Point"
    lines = tmp_path / "sites.jsonl"
    rows = [dict(GOOD[2], brands=["bmw", "mini"]), "not an object", {"external_id": "j"}]
    lines.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    report = import_file(sessions, gazetteer, lines)
    assert report.imported == 1 and len(report.rejected) == 3
    with sessions() as s:
        berg = s.scalars(select(Site).where(Site.external_id == "b1")).one()
        assert berg.brands == ["bmw", "mini"] and berg.timezone == "Europe/Berlin"


def test_a_refused_row_leaves_neither_its_site_nor_its_organisation(
    sessions, gazetteer, tmp_path: Path
) -> None:
    refused = next(r for r in BAD if r["external_id"] == "x5")  # refused once parsed: geocoding
    report = import_file(sessions, gazetteer, write_csv(tmp_path / "half.csv", [refused, GOOD[2]]))
    assert report.imported == 1 and [r.external_id for r in report.rejected] == ["x5"]
    with sessions() as s:
        names = s.scalars(select(Organisation.legal_name)).all()
        events = s.scalars(select(OutboxEvent.entity)).all()
    assert names == ["Autohaus Berg GmbH"]
    assert sorted(events) == ["organisation", "site"]


def test_the_cli_prints_a_summary_and_writes_a_report(
    sessions, tmp_path: Path, database_url
) -> None:
    path = write_csv(tmp_path / "cli.csv", GOOD + BAD + LEFT_OUT)
    report_path = tmp_path / "rejected.csv"
    env = {"DATABASE_URL": database_url, "ATELIER_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["import", str(path), "--report", str(report_path)], env=env)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.strip()
        .splitlines()[-1]
        .startswith(f"imported 5, updated 0, rejected {len(BAD)}")
    )
    assert "imported without phone" in result.stderr
    with report_path.open() as fh:
        lines = list(csv.DictReader(fh))
    assert [line["outcome"] for line in lines].count("rejected") == len(BAD)
    assert {line["field"] for line in lines if line["outcome"] == "left out"} == {
        "phone",
        "opening_hours",
        "email",
        "services",
    }


def test_a_file_with_unknown_columns_is_refused_readably(tmp_path: Path, database_url) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("external_id,colour\n1,red\n")
    env = {"DATABASE_URL": database_url, "ATELIER_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["import", str(path)], env=env)
    assert result.exit_code == 1
    assert "unknown columns: colour" in result.output


def test_rows_naming_a_former_commune_or_a_cedex_are_geocoded(
    sessions, gazetteer, tmp_path: Path
) -> None:
    rows = [
        {"external_id": "f1", "organisation_legal_name": "Garage de Segré", "name": "Garage",
         "postcode": "49500", "city": "Segré", "country": "FR"},
        {"external_id": "f2", "organisation_legal_name": "Pneus Pouancé", "name": "Pneus",
         "city": "Pouancé", "country": "FR"},
        {"external_id": "c1", "organisation_legal_name": "Flotte SA", "name": "Flotte",
         "postcode": "69421", "city": "LYON CEDEX 03", "country": "FR"},
    ]  # fmt: skip
    report = import_file(sessions, gazetteer, write_csv(tmp_path / "old.csv", rows))
    assert (report.imported, report.rejected) == (3, []), report.rejected
    with sessions() as s:
        where = {x.external_id: (round(x.lat, 1), round(x.lng, 1)) for x in s.scalars(select(Site))}
    assert where == {"f1": (47.7, -0.9), "f2": (47.8, -1.2), "c1": (45.8, 4.8)}
