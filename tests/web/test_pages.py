"""The drivers' pages, through the application: same truth as the API, in both languages, with
a strict Content-Security-Policy. (Browser, keyboard and axe checks: test_browser.py.)"""

from __future__ import annotations

import json
import re

import pytest
from litestar.testing import TestClient

from tests.conftest import drain
from tests.searching.test_search import LYON, _attest, _issuer, add_site

FR = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def ids_in(html: str) -> list[str]:
    return re.findall(r'<li class="result" data-id="(st_[a-z0-9]+)"', html)


def test_the_home_page_speaks_the_visitors_language_under_a_strict_policy(client) -> None:
    french = client.get("/", headers=FR)
    assert french.status_code == 200 and french.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in french.text and "Trouver un garage qualifié" in french.text
    assert "Clés et antidémarrage" in french.text  # the job picker, from jobs.toml
    assert 'hreflang="en"' in french.text  # the visible switch
    english = client.get("/", headers={**FR}, params={"lang": "en"})
    assert '<html lang="en">' in english.text and "Find a qualified workshop" in english.text
    policy = french.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert french.headers["x-content-type-options"] == "nosniff"
    sheet = re.search(r'href="(/static/style\.[0-9a-f]{10}\.css)"', french.text)
    assert sheet is not None
    css = client.get(sheet.group(1))
    assert css.status_code == 200 and "immutable" in css.headers["cache-control"]
    assert client.get("/static/style.0000000000.css").status_code == 404


@pytest.mark.parametrize("backend", ["search_client", "client"])
def test_the_results_page_lists_what_the_api_answers(
    request, backend, sessions, index, gazetteer
) -> None:
    web: TestClient = request.getfixturevalue(backend)
    keys = add_site(sessions, gazetteer, "Clés Lyon", LYON[0], LYON[1])
    add_site(sessions, gazetteer, "Garage Plain", LYON[0] + 0.01, LYON[1])
    far = add_site(sessions, gazetteer, "Garage Loin", LYON[0] + 0.3, LYON[1])
    iss, key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    _attest(sessions, iss, key, keys, "eu.sermi.operator")
    drain(sessions, index)
    for params in (
        {"place": "Lyon", "radius_km": "10"},
        {"place": "69003", "radius_km": "50", "job": "keys-immobiliser"},
        {"place": "Lyon", "radius_km": "50"},
    ):
        page = web.get("/", params=params, headers=FR)
        api = web.get("/v1/search", params=params)
        assert page.status_code == 200 and api.status_code == 200, page.text
        assert ids_in(page.text) == [i["id"] for i in api.json()["items"]], params
    assert far in ids_in(web.get("/", params={"place": "Lyon", "radius_km": "50"}).text)
    verified = web.get("/", params={"place": "Lyon", "job": "keys-immobiliser"}, headers=FR)
    assert "vérifiée" in verified.text and "SERMI" in verified.text


def test_an_empty_answer_offers_the_nearest_wider_radius(client, sessions, gazetteer) -> None:
    add_site(sessions, gazetteer, "Garage Loin", LYON[0] + 0.3, LYON[1])  # ~33 km north
    page = client.get("/", params={"place": "Lyon", "radius_km": "10", "lang": "en"})
    assert page.status_code == 200 and ids_in(page.text) == []
    assert "No workshop matches" in page.text and "radius_km=50" in page.text


def test_a_search_that_cannot_be_made_says_why_in_the_page(client) -> None:
    page = client.get("/", params={"place": "Atlantis", "lang": "en"})
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    assert "Atlantis" in page.text and 'role="alert"' in page.text


def test_a_profile_has_a_stable_url_structured_data_and_follows_renames(
    client, admin, sessions, gazetteer
) -> None:
    site = add_site(
        sessions, gazetteer, "Garage Martin", LYON[0], LYON[1], opening_hours="Mo-Fr 08:00-18:00"
    )
    listed = client.get("/", params={"place": "Lyon", "lang": "fr"}).text
    href = re.search(rf'href="(/garages/lyon/garage-martin-{site})\?lang=fr"', listed)
    assert href is not None, listed
    page = client.get(href.group(1), headers=FR)
    assert page.status_code == 200
    assert f'<link rel="canonical" href="http://testserver.local{href.group(1)}">' in page.text
    data = json.loads(
        re.search(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S).group(1)
    )
    assert data["@type"] == "AutoRepair" and data["name"] == "Garage Martin"
    assert "Lundi" in page.text and "08:00–18:00" in page.text
    # A profile with an attested competence (dates in its structured data) and a name that
    # could close the script element.
    iss, key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    _attest(sessions, iss, key, site, "eu.sermi.operator")
    attested = client.get(href.group(1), headers=FR)
    assert attested.status_code == 200 and "SERMI" in attested.text
    data = json.loads(re.search(r'ld\+json">(.*?)</script>', attested.text, re.S).group(1))
    assert data["name"] == "Garage Martin"
    renamed = client.patch(
        f"/v1/sites/{site}",
        json={"name": "Garage Martin & Fils"},
        headers={**admin, "If-Match": '"1"'},
    )
    assert renamed.status_code == 200, renamed.text
    old = client.get(href.group(1), follow_redirects=False)
    assert old.status_code == 301
    assert old.headers["location"] == f"/garages/lyon/garage-martin-fils-{site}"
    assert client.get("/garages/lyon/nothing-st_zzzz").status_code == 404
    assert client.get("/garages/lyon/no-id-here").status_code == 404


def test_search_engines_are_told_what_to_read(client, sessions, gazetteer) -> None:
    site = add_site(sessions, gazetteer, "Garage Martin", LYON[0], LYON[1])
    robots = client.get("/robots.txt")
    assert "Sitemap: http://testserver.local/sitemap.xml" in robots.text
    assert "Disallow: /v1/" in robots.text
    sitemap = client.get("/sitemap.xml")
    assert sitemap.headers["content-type"].startswith("application/xml")
    assert f"/garages/lyon/garage-martin-{site}</loc>" in sitemap.text


def test_every_word_on_the_pages_has_its_french() -> None:
    """A msgid the French catalogue lacks would show in English on a French page."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    from directory.web import pages
    from directory.web.i18n import translations

    web = Path(pages.__file__).parent
    sources = [p.read_text() for p in (web / "templates").glob("*.html")]
    sources.append(Path(pages.__file__).read_text())
    msgids = {m for text in sources for m in re.findall(r"_\(\s*[\"']([^\"']+)[\"']\s*\)", text)}
    msgids |= set(pages.DOMAINS.values()) | set(pages.DAYS) | set(pages.ISSUER_KINDS.values())
    assert len(msgids) > 40
    with (web / "locale" / "fr.po").open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    missing = sorted(m for m in msgids if m not in catalog or not catalog[m].string)
    assert missing == [], missing
    assert translations("fr").gettext("Open now") == "Ouvert maintenant"


def test_a_competence_page_says_what_it_means_and_leads_to_a_search(client) -> None:
    page = client.get("/competences/fr.nfc18550.b2vl", headers=FR)
    assert page.status_code == 200
    assert "Elle couvre aussi" in page.text and "/competences/fr.nfc18550.b1vl" in page.text
    assert 'name="competence" value="fr.nfc18550.b2vl"' in page.text
    assert "Voiture électrique ou hybride" in page.text  # the jobs that need it
    assert "un organisme de formation" in page.text and "training" not in page.text
    assert client.get("/competences/no.such").status_code == 404
    search = client.get("/", params={"place": "Lyon", "competence": "fr.nfc18550.b2vl"})
    assert search.status_code == 200 and 'value="fr.nfc18550.b2vl"' in search.text
    assert "/competences/fr.nfc18550.b2vl</loc>" in client.get("/sitemap.xml").text
