"""The drivers' pages, through the application: same truth as the API, in both languages, with
a strict Content-Security-Policy. (Browser, keyboard and axe checks: test_browser.py.)"""

from __future__ import annotations

import html
import json
import re

import pytest
from litestar.testing import TestClient

from certifications.catalogue import default_catalogue
from directory.db import transaction
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
    assert "No place called “Atlantis” is known." in page.text and 'role="alert"' in page.text
    french = client.get("/", params={"place": "Atlantis"}, headers=FR)
    assert "Aucun lieu nommé « Atlantis » n'est connu." in html.unescape(french.text)
    stale = client.get("/", params={"place": "Lyon", "cursor": "x" * 20}, headers=FR)
    assert stale.status_code == 400 and "relancez la recherche" in stale.text
    odd = client.get("/", params={"place": "Lyon", "radius_km": "900", "lang": "en"})
    assert odd.status_code == 400 and "The value of “radius_km” cannot be used." in odd.text


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

    from directory.web import render
    from directory.web.i18n import translations

    web = Path(render.__file__).parent
    sources = [p.read_text() for p in (web / "templates").glob("*.html")]
    sources += [p.read_text() for p in web.glob("*.py")]
    msgids = {
        a or b
        for text in sources
        for a, b in re.findall(r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*[,)]""", text)
    }
    plurals = re.findall(r'ngettext\(\s*"([^"]+)",\s*"([^"]+)"', "".join(sources))
    assert plurals  # the counts on the pages
    msgids |= {singular for singular, _plural in plurals}
    for table in (render.DOMAINS, render.ISSUER_KINDS, render.POWERTRAINS, render.VEHICLES):
        msgids |= set(table.values())
    msgids |= set(render.DAYS)
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


def test_results_say_when_each_workshop_closes_or_opens_and_how_to_call_it(
    client, sessions, gazetteer
) -> None:
    """The hours line comes from the same instant as ``open_now``; the API carries it too
    (``next_change``), so a page and an integrator read the same thing."""
    add_site(
        sessions, gazetteer, "Toujours Fermé", LYON[0], LYON[1],
        opening_hours="Mo-Su 00:00-00:01", phone="04 78 00 00 01",
    )  # fmt: skip
    add_site(sessions, gazetteer, "Sans Horaires", LYON[0] + 0.001, LYON[1])
    api = client.get("/v1/search", params={"place": "Lyon", "radius_km": "5"}).json()
    by_name = {i["name"]: i for i in api["items"]}
    assert by_name["Sans Horaires"]["next_change"] is None
    change = by_name["Toujours Fermé"]["next_change"]
    assert change is not None and change[11:16] in ("00:00", "00:01")
    assert by_name["Toujours Fermé"]["phone"] == "+33478000001"
    page = client.get("/", params={"place": "Lyon", "radius_km": "5", "lang": "en"}).text
    assert 'href="tel:+33478000001"' in page
    assert re.search(r"(opens tomorrow at 00:00|closes at 00:01)", page), page


def test_the_brand_and_powertrain_filters_show_counts_and_match_the_api(
    request, client, sessions, gazetteer
) -> None:
    add_site(
        sessions,
        gazetteer,
        "Renault EV",
        LYON[0],
        LYON[1],
        brands=["renault"],
        powertrains=["bev", "ice"],
    )
    add_site(
        sessions,
        gazetteer,
        "Peugeot",
        LYON[0] + 0.01,
        LYON[1],
        brands=["peugeot"],
        powertrains=["ice"],
    )
    add_site(
        sessions,
        gazetteer,
        "Renault Thermique",
        LYON[0] + 0.02,
        LYON[1],
        brands=["renault"],
        powertrains=["ice"],
    )
    page = client.get("/", params={"place": "Lyon", "lang": "en"}).text
    assert re.search(r'<option value="renault"[^>]*>Renault \(2\)</option>', page), page
    assert re.search(r'<option value="peugeot"[^>]*>Peugeot \(1\)</option>', page)
    assert re.search(r'<option value="bev"[^>]*>Electric \(1\)</option>', page)
    for params in (
        {"brand": "renault"},
        {"powertrain": "bev"},
        {"brand": "peugeot", "powertrain": "bev"},
    ):
        query = {"place": "Lyon", **params}
        shown = ids_in(client.get("/", params=query).text)
        listed = [i["id"] for i in client.get("/v1/search", params=query).json()["items"]]
        assert shown == listed, params
    assert len(ids_in(client.get("/", params={"place": "Lyon", "brand": "renault"}).text)) == 2
    # Before any search the brand is typed, and read as people write it.
    assert '<input id="brand" name="brand" type="text"' in client.get("/").text
    typed = client.get("/", params={"place": "Lyon", "brand": " Renault "}).text
    assert len(ids_in(typed)) == 2


def test_a_search_from_the_visitors_position_is_the_apis(client, sessions, gazetteer) -> None:
    near = add_site(sessions, gazetteer, "Près", LYON[0], LYON[1])
    add_site(sessions, gazetteer, "Loin", LYON[0] + 0.5, LYON[1])
    point = {"lat": str(LYON[0]), "lng": str(LYON[1]), "radius_km": "10"}
    page = client.get("/", params={**point, "lang": "en"})
    assert page.status_code == 200 and ids_in(page.text) == [near]
    assert "Workshops near your position" in page.text
    assert ids_in(page.text) == [
        i["id"] for i in client.get("/v1/search", params=point).json()["items"]
    ]


def test_the_results_map_is_drawn_from_the_list_with_tiles_the_policy_allows(
    client, sessions, gazetteer
) -> None:
    add_site(sessions, gazetteer, "Garage A", LYON[0], LYON[1])
    page = client.get("/", params={"place": "Lyon"})
    policy = page.headers["content-security-policy"]
    assert "img-src 'self' https://tile.openstreetmap.org;" in policy
    assert "connect-src 'self'" in policy
    assert page.headers["referrer-policy"] == "strict-origin"  # tile servers want the origin
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in page.text
    assert "© OpenStreetMap contributors" in page.text
    assert re.search(rf'data-lat="{LYON[0]}" data-lng="{LYON[1]}" data-name="Garage A"', page.text)
    # The API keeps its own stricter policy.
    assert client.get("/v1/jobs").headers["referrer-policy"] == "no-referrer"


def test_a_page_weighs_under_150_kb_with_its_scripts_gzipped(client, sessions, gazetteer) -> None:
    """What a browser downloads for a results page, map tiles aside: the HTML and every
    stylesheet and script it links, as served (gzip when asked)."""
    for i in range(20):
        add_site(sessions, gazetteer, f"Garage {i}", LYON[0] + i / 1000, LYON[1])
    gz = {"Accept-Encoding": "gzip"}
    page = client.get("/", params={"place": "Lyon"}, headers=gz)
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert any("leaflet." in u and u.endswith(".js") for u in linked), linked
    total = len(page.content)
    for url in linked:
        asset = client.get(url, headers=gz)
        assert asset.status_code == 200 and asset.headers["vary"] == "Accept-Encoding"
        total += int(asset.headers["content-length"])
    assert total < 150_000, total  # 64 kB when measured (20 results; HTML not gzipped)
    plain = client.get(
        next(u for u in linked if u.endswith(".js")), headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers


def test_a_profile_shows_how_to_check_each_attestation_and_what_the_workshop_offers(
    client, admin, sessions, gazetteer
) -> None:
    from directory.models import Membership, Network, Technician

    site = add_site(
        sessions, gazetteer, "Garage Volt", LYON[0], LYON[1],
        languages=["fr", "de"], vehicles=["car", "van"], powertrains=["bev"],
        email="atelier@example.org",
    )  # fmt: skip
    iss, key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    jti = _attest(sessions, iss, key, site, "eu.sermi.operator")
    hv, hv_key = _issuer(sessions, "fr.nfc18550.b2vl")
    with transaction(sessions) as s:
        techs = [Technician(site_id=site, display_name=n) for n in ("Alex Secret", "Sam Hidden")]
        s.add_all(techs)
        s.flush()
        tech_ids = [t.id for t in techs]
        public = Network(name="Réseau Public", kind="chain", visibility="public")
        private = Network(name="Liste Privée", kind="insurer", visibility="private", owner="x")
        s.add_all([public, private])
        s.flush()
        s.add_all([Membership(network_id=n.id, site_id=site) for n in (public, private)])
    for tech in tech_ids:
        _attest(sessions, hv, hv_key, tech, "fr.nfc18550.b2vl")
    listed = client.get("/", params={"place": "Lyon", "lang": "en"}).text
    href = re.search(r'href="(/garages/lyon/garage-volt-st_[a-z0-9]+)\?lang=en"', listed).group(1)
    page = client.get(href, params={"lang": "en"}).text
    check = re.search(r'<a href="(/v1/attestations/[^"]+)" data-check>', page)
    assert check is not None and check.group(1) == f"/v1/attestations/{jti}"
    attestation = client.get(check.group(1)).json()
    assert attestation["jti"] == jti and attestation["token"].count(".") == 2
    assert f'href="/v1/issuers/{iss}/jwks.json"' in page
    assert client.get(f"/v1/issuers/{iss}/jwks.json").json()["keys"]
    assert "Attested by Test issuer" in page
    assert "2 technicians" in page and "Alex" not in page and "Sam" not in page
    assert "Réseau Public" in page and "Liste Privée" not in page
    assert "German" in page and "Vans" in page and "Electric" in page
    assert 'href="mailto:atelier@example.org"' in page and "Claim it" in page
    french = client.get(href, params={"lang": "fr"}).text
    assert "allemand" in french and "Utilitaires" in french and "2 techniciens" in french
    assert 'hreflang="en"' in french and "og:locale" in french


def test_past_50000_urls_the_sitemap_is_an_index_of_files(
    client, sessions, gazetteer, monkeypatch
) -> None:
    """The protocol's limit made small: every active profile and competence page is in exactly
    one file of the index, and a file past the end is a 404."""
    from directory.web import crawlers

    sites = [add_site(sessions, gazetteer, f"Garage {i}", LYON[0], LYON[1]) for i in range(7)]
    whole = re.findall(r"<loc>([^<]+)</loc>", client.get("/sitemap.xml").text)
    assert len(whole) == 7 + len(default_catalogue().schemes)
    monkeypatch.setattr(crawlers, "PER_FILE", 5)
    index = client.get("/sitemap.xml").text
    assert "<sitemapindex" in index
    files = re.findall(r"<sitemap><loc>http://testserver.local(/sitemaps/\d+\.xml)</loc>", index)
    assert len(files) == -(-len(whole) // 5)
    parts = [re.findall(r"<loc>([^<]+)</loc>", client.get(f).text) for f in files]
    assert all(0 < len(p) <= 5 for p in parts)
    assert sorted(u for p in parts for u in p) == sorted(whole)
    assert all(any(s in u for u in whole) for s in sites)
    assert client.get(f"/sitemaps/{len(files)}.xml").status_code == 404
