"""Liveness and readiness: the process answers; the database and the search index are reachable."""

from __future__ import annotations

from typing import Any

import msgspec
from anyio import to_thread
from litestar import Response, get
from sqlalchemy import text

from directory.http import Deps
from search.engine import is_healthy


class Check(msgspec.Struct):
    status: str
    checks: dict[str, str]


@get("/health/live", tags=["operations"])
async def live() -> Check:
    return Check(status="ok", checks={})


@get("/health/ready", tags=["operations"])
async def ready(services: Deps) -> Response[Check]:
    def probe() -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as err:  # noqa: BLE001 - any failure means "not ready"
            checks["database"] = f"unavailable: {type(err).__name__}"
        url = services.meili_url
        checks["search"] = "ok" if url and is_healthy(url, timeout=1.0) else "unavailable"
        return checks

    checks: dict[str, Any] = await to_thread.run_sync(probe)
    ok = all(v == "ok" for v in checks.values())
    return Response(
        Check(status="ok" if ok else "unavailable", checks=checks), status_code=200 if ok else 503
    )
