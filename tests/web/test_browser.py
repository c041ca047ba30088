"""The pages in a real browser (Playwright driving Debian's Chromium) against a real running
service loaded with the demo data: search by place (with the suggestions) and by job with the
keyboard alone, filter, page, open a profile, switch language, search from the browser's
position; the map's markers are the list's; no console error and no failed request (map tiles
are answered by a stand-in tile server, the one thing outside); axe-core (pinned in
package.json) finds no serious or critical violation; screenshots at phone and desktop widths
under tests/artifacts/.

Alone: ``.venv/bin/pytest tests/web/test_browser.py``."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.conftest import drain
from tests.searching.test_search import LYON, _attest, _issuer, add_site
from tests.serving import BIN, ROOT, served

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}
# A 1×1 grey PNG for every tile: the default tile server is on the internet, which the tests
# do not reach; what is checked is that the map asks the configured tile URL for its tiles.
TILE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGPo6OgAAAMEAYFL09IQAAAAAElFTkSuQmCC"
)


@pytest.fixture()
def site_url(database_url, meili, meili_keys, sessions, index, gazetteer, tmp_path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "DATABASE_URL": database_url, "ATELIER_DATA_DIR": str(tmp_path)}
    subprocess.run(  # noqa: S603 - the demo data, as `make run` loads it (a smaller share)
        [str(BIN / "atelier"), "demo", "--count", "600"], env=env, check=True, cwd=ROOT
    )
    keys = add_site(
        sessions, gazetteer, "Clés Express Lyon", LYON[0], LYON[1],
        opening_hours="Mo-Fr 08:00-18:00; Sa 09:00-12:00", phone="04 78 12 34 56",
        brands=["renault"],
    )  # fmt: skip
    iss, key = _issuer(sessions, "eu.sermi.operator", kind="certification-body")
    _attest(sessions, iss, key, keys, "eu.sermi.operator")
    drain(sessions, index)
    with served(database_url, meili, meili_keys, tmp_path) as url:
        yield url


def _axe(page) -> list[dict]:  # type: ignore[no-untyped-def]
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = json.loads(result)["violations"]
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def _api_names(site_url: str, page_url: str) -> list[str]:
    """What /v1/search answers for the parameters of a results page's URL."""
    params = [(k, v) for k, v in parse_qsl(urlsplit(page_url).query) if k != "lang"]
    answer = httpx.get(site_url + "/v1/search", params=params).json()
    return [i["name"] for i in answer["items"]]


def _shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    for label, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_the_search_to_profile_flow_works_with_the_keyboard_alone(site_url) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is needed: `make test` installs it (apt-get)"
    ARTIFACTS.mkdir(exist_ok=True)
    tiles: list[str] = []

    def tile(route) -> None:  # type: ignore[no-untyped-def]
        tiles.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=TILE)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 800})
            context.route("https://tile.openstreetmap.org/**", tile)
            page = context.new_page()
            errors: list[str] = []
            failed: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

            page.goto(site_url + "/")
            assert page.locator("html").get_attribute("lang") == "fr"
            _shoot(page, "home")
            # Keyboard only: the skip link first, then the form in order.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.locator("#place").focus()
            page.keyboard.type("Lyo")  # suggestions from the gazetteer as one types
            page.wait_for_selector("#place-suggestions option", state="attached")
            suggested = page.eval_on_selector_all(
                "#place-suggestions option", "os => os.map(o => o.value)"
            )
            assert "Lyon 69001" in suggested, suggested
            page.keyboard.type("n")
            page.keyboard.press("Tab")  # "use my position", shown once the script runs
            assert page.evaluate("document.activeElement.dataset.locate") == ""
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "job"
            page.select_option("#job", "keys-immobiliser")
            for _ in range(3):  # the radius, "open now", the button
                page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.type") == "submit"
            page.keyboard.press("Enter")
            page.wait_for_selector("ol.results li.result")
            names = page.locator("ol.results h3 a").all_inner_texts()
            assert "Clés Express Lyon" in names and names == _api_names(site_url, page.url)
            assert "vérifiée" in page.locator("ol.results").inner_text()
            # The map: one marker a result, numbered as the list, tiles from the configured URL.
            page.wait_for_selector("#map[data-markers]")
            assert page.locator("#map .pin").count() == len(names)
            assert page.locator("#map .pin").first.inner_text() == "1"
            assert tiles and all(t.startswith("https://tile.openstreetmap.org/") for t in tiles)
            assert "OpenStreetMap" in page.locator(".leaflet-control-attribution").inner_text()
            _shoot(page, "results")

            # Filter by brand (counts beside it), then page through a wider search.
            page.goto(site_url + "/?place=Lyon&radius_km=25")
            brands = page.eval_on_selector_all(
                "#brand option", "os => os.map(o => [o.value, o.textContent])"
            )
            assert any(v == "renault" and "(" in t for v, t in brands), brands
            page.select_option("#brand", "renault")
            page.locator("form.search button[type=submit]").click()
            page.wait_for_selector("ol.results li.result")
            assert "brand=renault" in page.url
            assert page.locator("ol.results h3 a").all_inner_texts() == _api_names(
                site_url, page.url
            )
            page.goto(site_url + "/?place=Lyon&radius_km=50")
            first = page.locator("ol.results h3 a").all_inner_texts()
            assert len(first) == 20
            page.locator("a.next").click()
            page.wait_for_selector("ol.results li.result")
            second = page.locator("ol.results h3 a").all_inner_texts()
            assert second and not set(second) & set(first)
            assert second == _api_names(site_url, page.url)

            # Open a profile with the keyboard.
            page.goto(site_url + "/?place=Lyon&job=keys-immobiliser")
            link = page.locator("ol.results h3 a", has_text="Clés Express Lyon")
            link.focus()
            page.keyboard.press("Enter")
            page.wait_for_selector("h1")
            assert page.locator("h1").inner_text() == "Clés Express Lyon"
            assert page.locator("tr.today").count() == 1
            assert page.locator('a[href^="tel:"]').count() >= 1
            assert page.locator("a[data-check]").count() == 1
            page.wait_for_selector("#map[data-markers='1']")
            _shoot(page, "profile")

            page.locator('a[hreflang="en"]').click()
            page.wait_for_selector('html[lang="en"]')
            assert "Opening hours" in page.content()
            _shoot(page, "profile-en")
            assert errors == [] and failed == [], (errors, failed)

            # "Use my position": asked only on the click; the browser's position, granted.
            located = browser.new_context(
                locale="en-GB",
                geolocation={"latitude": LYON[0], "longitude": LYON[1]},
                permissions=["geolocation"],
            )
            located.route("https://tile.openstreetmap.org/**", tile)
            here = located.new_page()
            here.goto(site_url + "/")
            here.locator("[data-locate]").click()
            here.wait_for_selector("ol.results li.result")
            assert "Workshops near your position" in here.content()
            assert here.locator("ol.results h3 a").all_inner_texts() == _api_names(
                site_url, here.url
            )

            # axe-core is injected as a script, which the pages' policy refuses: a second
            # context that bypasses it runs the audit on the same pages.
            audit_context = browser.new_context(locale="fr-FR", bypass_csp=True)
            audit_context.route("https://tile.openstreetmap.org/**", tile)
            audit = audit_context.new_page()
            serious = {}
            for path in (
                "/",
                "/?place=Lyon&job=keys-immobiliser",
                "/?place=Lyon&radius_km=5&lang=en",
                "/?place=Atlantis",
                "/competences/fr.nfc18550.b2vl",
            ):
                audit.goto(site_url + path)
                serious[path] = _axe(audit)
            _shoot(audit, "competence")
            audit.goto(site_url + "/?place=Lyon&job=keys-immobiliser")
            audit.locator("ol.results h3 a", has_text="Clés Express Lyon").click()
            audit.wait_for_selector("#map[data-markers]")
            serious["profile"] = _axe(audit)
            (ARTIFACTS / "axe.json").write_text(json.dumps(serious, indent=1))
            assert all(v == [] for v in serious.values()), serious
        finally:
            browser.close()
