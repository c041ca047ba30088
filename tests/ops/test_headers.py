"""What every answer tells a browser, and the API reference page's own assets."""

from __future__ import annotations

import re

from litestar.testing import TestClient

from directory.ops.reference import ASSET_PATH
from tests.conftest import PASSWORD


def test_every_answer_carries_the_hardening_headers(client: TestClient, site: dict) -> None:
    for path in ("/v1/competences", f"/v1/sites/{site['id']}", "/v1/nowhere", "/health/ready"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "default-src 'none'" in headers["content-security-policy"], path


def test_answers_that_carry_a_token_are_never_stored(client: TestClient, repairer) -> None:  # type: ignore[no-untyped-def]
    repairer("anne@garage.fr")
    login = client.post("/v1/auth/login", json={"email": "anne@garage.fr", "password": PASSWORD})
    assert login.status_code == 200 and "token" in login.json()
    assert login.headers["cache-control"] == "no-store"


def test_logging_out_deletes_the_cookie_with_all_its_attributes(
    client: TestClient, repairer
) -> None:  # type: ignore[no-untyped-def]
    repairer("anne@garage.fr")
    login = client.post(
        "/v1/auth/login", json={"email": "anne@garage.fr", "password": PASSWORD, "cookie": True}
    )
    csrf = login.json()["csrf_token"]
    # The test client keeps Secure cookies for https only: send it as a browser would.
    token = re.search(r"atelier_session=([^;]+)", login.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
    out = client.post(
        "/v1/auth/logout",
        headers={"X-CSRF-Token": csrf, "Cookie": f"atelier_session={token}"},
    )
    assert out.status_code == 204, out.text
    deletion = out.headers["set-cookie"]
    for attribute in ("Secure", "HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=0"):
        assert attribute.lower() in deletion.lower(), deletion
    assert out.headers["cache-control"] == "no-store"


def test_the_api_reference_loads_only_our_own_pinned_script(client: TestClient) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources  # nothing third-party
    assert ASSET_PATH in sources
    csp = page.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    script = client.get(ASSET_PATH)
    assert script.status_code == 200 and len(script.content) > 100_000
    assert script.headers["content-type"].startswith("text/javascript")
    assert "immutable" in script.headers["cache-control"]
