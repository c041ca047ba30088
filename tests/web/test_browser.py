"""The pages in a real browser (Playwright driving Debian's Chromium) against a real running
service: search by place and by job with the keyboard alone, open a profile, switch language;
no console error, no failed request; axe-core (pinned in package.json) finds no serious or
critical violation on the search, results, error, competence and profile pages; screenshots
at phone and desktop widths under tests/artifacts/.

Alone: ``.venv/bin/pytest tests/web/test_browser.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import drain
from tests.searching.test_search import LYON, _attest, _issuer, add_site
from tests.serving import ROOT, served

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
SIZES = {"phone": (390, 844), "desktop": (1280, 800)}


@pytest.fixture()
def site_url(database_url, meili, meili_keys, sessions, index, gazetteer, tmp_path):  # type: ignore[no-untyped-def]
    keys = add_site(
        sessions, gazetteer, "Clés Express Lyon", LYON[0], LYON[1],
        opening_hours="Mo-Fr 08:00-18:00; Sa 09:00-12:00", phone="04 78 12 34 56",
    )  # fmt: skip
    add_site(sessions, gazetteer, "Garage du Rhône", LYON[0] + 0.01, LYON[1])
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


def test_the_search_to_profile_flow_works_with_the_keyboard_alone(site_url) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is needed: `make test` installs it (apt-get)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="fr-FR")
            page = context.new_page()
            errors: list[str] = []
            failed: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

            page.goto(site_url + "/")
            assert page.locator("html").get_attribute("lang") == "fr"
            # Keyboard only: the skip link first, then the form in order.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.className") == "skip"
            page.locator("#place").focus()
            page.keyboard.type("Lyon")
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.id") == "job"
            page.select_option("#job", "keys-immobiliser")
            for _ in range(3):  # the radius, "open now", the button
                page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.type") == "submit"
            page.keyboard.press("Enter")
            page.wait_for_selector("ol.results li.result")
            names = page.locator("ol.results h3").all_inner_texts()
            assert names == ["Clés Express Lyon"], names
            assert "vérifiée" in page.locator("ol.results").inner_text()
            for label, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                page.screenshot(path=str(ARTIFACTS / f"results-{label}.png"), full_page=True)

            page.locator("ol.results h3 a").first.focus()
            page.keyboard.press("Enter")
            page.wait_for_selector("h1")
            assert page.locator("h1").inner_text() == "Clés Express Lyon"
            assert page.locator("tr.today").count() == 1
            assert page.locator('a[href^="tel:"]').count() == 1
            for label, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                page.screenshot(path=str(ARTIFACTS / f"profile-{label}.png"), full_page=True)

            page.locator('a[hreflang="en"]').click()
            page.wait_for_selector('html[lang="en"]')
            assert "Opening hours" in page.content()
            for label, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                page.screenshot(path=str(ARTIFACTS / f"profile-en-{label}.png"), full_page=True)
            assert errors == [] and failed == [], (errors, failed)

            # axe-core is injected as a script, which the pages' policy refuses: a second
            # context that bypasses it runs the audit on the same pages.
            audit = browser.new_context(locale="fr-FR", bypass_csp=True).new_page()
            serious = {}
            for path in (
                "/",
                "/?place=Lyon&job=keys-immobiliser",
                "/?place=Atlantis",
                "/competences/fr.nfc18550.b2vl",
            ):
                audit.goto(site_url + path)
                serious[path] = _axe(audit)
            for label, (width, height) in SIZES.items():
                audit.set_viewport_size({"width": width, "height": height})
                audit.screenshot(path=str(ARTIFACTS / f"competence-{label}.png"), full_page=True)
            audit.goto(site_url + "/?place=Lyon")
            audit.locator("ol.results h3 a").first.click()
            audit.wait_for_selector("h1")
            serious["profile"] = _axe(audit)
            (ARTIFACTS / "axe.json").write_text(json.dumps(serious, indent=1))
            assert all(v == [] for v in serious.values()), serious
        finally:
            browser.close()
