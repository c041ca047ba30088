"""The API reference page at /schema, from pinned, self-hosted assets: Scalar's standalone
script comes from the npm package pinned in package-lock.json (its integrity checked by npm) and
is served by us, so the page loads nothing from a third party on the origin of the session
cookie. Litestar's own Scalar plugin loads `@latest` from a CDN without integrity."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from litestar import Request, get
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.response import File

from directory.errors import NotFound

__all__ = ["ASSET_PATH", "ApiReference", "scalar_script"]

PACKAGE = Path(__file__).resolve().parents[2] / "node_modules" / "@scalar" / "api-reference"
VERSION = "1.72.1"  # as pinned in package.json
ASSET_PATH = f"/schema/assets/scalar-api-reference-{VERSION}.js"


# Given as a data attribute, not an inline script (the CSP runs none). Scalar's default fonts
# come from its own CDN: without them, the page asks nothing of a third party.
_CONFIGURATION = html.escape('{"withDefaultFonts": false}')


class ApiReference(ScalarRenderPlugin):
    def __init__(self) -> None:
        super().__init__(js_url=ASSET_PATH, path="/")

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """No CDN stylesheet, favicon or inline style: the page's CSP allows scripts from us only
        (``directory/http.py``)."""
        title = html.escape(openapi_schema["info"]["title"])
        spec = html.escape(self.get_openapi_json_route(request))
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API reference</title>
</head>
<body>
<noscript>The API reference needs JavaScript; the document itself is at
<a href="{spec}">{spec}</a>.</noscript>
<script id="api-reference" data-url="{spec}" data-configuration="{_CONFIGURATION}"></script>
<script src="{html.escape(ASSET_PATH)}"></script>
</body>
</html>""".encode()


@get(ASSET_PATH, include_in_schema=False, sync_to_thread=False)
def scalar_script() -> File:
    path = PACKAGE / "dist" / "browser" / "standalone.js"
    if not path.is_file():
        raise NotFound("the API reference script is not installed: run `npm ci`")
    # The version is in the name, so the file never changes under it: cache it for a year.
    return File(
        path,
        media_type="text/javascript",
        content_disposition_type="inline",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
