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
async def ready(app_services: Deps) -> Response[Check]:
    def probe() -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            with app_services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as err:  # noqa: BLE001 - any failure means "not ready"
            checks["database"] = f"unavailable: {type(err).__name__}"
        url = app_services.meili_url
        checks["search"] = "ok" if url and is_healthy(url, timeout=1.0) else "unavailable"
        return checks

    checks: dict[str, Any] = await to_thread.run_sync(probe)
    # Searches answer from the database while the index is away, so only the database's
    # absence takes the service out of a load balancer: "degraded" still serves (200), with
    # the missing part named; "down" does not (503).
    if checks["database"] != "ok":
        return Response(Check(status="down", checks=checks), status_code=503)
    status = "ok" if checks["search"] == "ok" else "degraded"
    return Response(Check(status=status, checks=checks), status_code=200)
