"""Static files under content-hashed names (``/static/style.3f9a1c2e.css``), so they can be
cached for a year: a changed file is a new name. Ours live in ``static/``; Leaflet comes from
the npm registry, pinned in package.json and lock file, and is served from here too, so a page
asks nothing of a third party but map tiles. Each file is gzipped once at start (Leaflet: 148 kB,
42 kB gzipped), which keeps a results page under 150 kB on the wire."""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

from litestar import Request, Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

__all__ = ["FOLDER", "static", "url"]

FOLDER = Path(__file__).with_name("static")
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
VENDORED = (NODE_MODULES / "leaflet/dist/leaflet.js", NODE_MODULES / "leaflet/dist/leaflet.css")
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


class Asset:
    __slots__ = ("body", "gzipped", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.body = path.read_bytes()
        self.gzipped = gzip.compress(self.body, compresslevel=9, mtime=0)


@cache
def _manifest() -> dict[str, Asset]:
    """Hashed name → file, for every file served (read once; a missing Leaflet stops start-up
    with the command that installs it)."""
    missing = [str(p) for p in VENDORED if not p.exists()]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} missing: run `make setup` (npm ci)")
    names = {}
    for path in [*sorted(FOLDER.iterdir()), *VENDORED]:
        if path.suffix in _TYPES:
            asset = Asset(path)
            digest = hashlib.sha256(asset.body).hexdigest()[:10]
            names[f"{path.stem}.{digest}{path.suffix}"] = asset
    return names


@cache
def url(name: str) -> str:
    """The hashed URL of a static file, for templates."""
    for hashed, asset in _manifest().items():
        if asset.path.name == name:
            return f"/static/{hashed}"
    raise KeyError(name)


@get("/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def static(request: Request, name: FromPath[str]) -> Response[bytes]:
    asset = _manifest().get(name)
    if asset is None:
        raise NotFoundException("no such file")
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    body = asset.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=_TYPES[asset.path.suffix], headers=headers)
