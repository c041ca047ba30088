"""The demo dataset: realistic, clearly marked, and showing every competence status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from certifications.catalogue import default_catalogue
from directory.models import Issuer, Site
from directory.profiles import demo, importer
from directory.trust.service import competences_for


def test_demo_sites_and_competences_show_every_status(sessions, gazetteer, tmp_path) -> None:
    records = demo.generate(gazetteer, 300)
    report = importer.import_rows(
        sessions, gazetteer, importer.rows_from_records(records), demo.SOURCE
    )
    assert report.imported == 300 and not report.rejected
    stored = demo.load_competences(sessions, default_catalogue(), tmp_path / "keys")
    assert stored > 100
    assert demo.load_competences(sessions, default_catalogue(), tmp_path / "keys") == 0
    with sessions() as s:
        sites = s.scalars(select(Site)).all()
        issuers = s.scalars(select(Issuer)).all()
        assert len(sites) == 300 and issuers
        assert all(site.name.endswith("(démo)") for site in sites)
        assert all(i.name.endswith("(démo)") for i in issuers)
        held = competences_for(s, default_catalogue(), [site.id for site in sites])
    flat = [c for cs in held.values() for c in cs]
    soon = datetime.now(UTC) + timedelta(days=22)
    assert {c.status for c in flat} == {"verified", "declared"}
    assert any(c.valid_until and c.valid_until < soon for c in flat)
    domains = {default_catalogue().schemes[c.scheme].domain for c in flat}
    assert {"ev-high-voltage", "security-rmi", "air-conditioning", "adas"} <= domains

    # Spread like real workshops: most in the big urban areas, not uniformly over communes.
    def in_paris_or_lyon(lat: float, lng: float) -> bool:
        return (abs(lat - 45.76) < 0.4 and abs(lng - 4.84) < 0.5) or (
            abs(lat - 48.86) < 0.4 and abs(lng - 2.35) < 0.6
        )

    communes = gazetteer.places("FR")
    commune_share = sum(in_paris_or_lyon(p[2], p[3]) for p in communes) / len(communes)
    site_share = sum(in_paris_or_lyon(s.lat, s.lng) for s in sites) / len(sites)
    assert site_share > 3 * commune_share
