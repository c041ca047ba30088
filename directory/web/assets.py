"""Static files under content-hashed names (``/static/style.3f9a1c2e.css``), so they can be
cached for a year: a changed file is a new name."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

__all__ = ["FOLDER", "static", "url"]

FOLDER = Path(__file__).with_name("static")
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@cache
def _manifest() -> dict[str, Path]:
    """Hashed name → file, for every file in the folder (read once)."""
    names = {}
    for path in sorted(FOLDER.iterdir()):
        if path.suffix in _TYPES:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
            names[f"{path.stem}.{digest}{path.suffix}"] = path
    return names


@cache
def url(name: str) -> str:
    """The hashed URL of a static file, for templates."""
    for hashed, path in _manifest().items():
        if path.name == name:
            return f"/static/{hashed}"
    raise KeyError(name)


@get("/static/{name:str}", include_in_schema=False, sync_to_thread=False)
def static(name: FromPath[str]) -> Response[bytes]:
    path = _manifest().get(name)
    if path is None:
        raise NotFoundException("no such file")
    return Response(
        path.read_bytes(),
        media_type=_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
