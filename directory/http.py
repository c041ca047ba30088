"""What every route shares: path and header parameter types, the ETag helpers, and the providers
Litestar injects — ``services`` (what the process holds), ``db`` (one transaction per request)
and ``caller`` (who is calling, resolved once by the gate)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, PathParameter
from sqlalchemy.orm import Session

from directory.db import etag
from directory.gate.auth import Principal, principal_of
from directory.services import Services

__all__ = [
    "AnyRequest",
    "Caller",
    "Db",
    "Deps",
    "Id",
    "IfMatch",
    "dependencies",
    "etag",
    "tagged",
]

AnyRequest = Request[Any, Any, Any]
Id = Annotated[str, PathParameter(max_length=40)]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", description="the ETag you read")]
# What handlers ask to be given (see ``dependencies`` below), named as Litestar 3 will require.
Db = NamedDependency[Session]
Caller = NamedDependency[Principal]
Deps = NamedDependency[Services]


def tagged(
    body: Any, version: int, status: int = 200, location: str | None = None
) -> Response[Any]:
    """An answer carrying its resource's version as ETag (and where it lives, once created)."""
    headers = {"ETag": etag(version)}
    if location:
        headers["Location"] = location
    return Response(body, status_code=status, headers=headers)


def _services(state: State) -> Services:
    return state.services


async def _db(services: Deps) -> AsyncIterator[Session]:
    """One transaction per request, committed in this one place once the handler has returned
    (and before the answer is sent, so a failed commit is the answer), rolled back on any error.
    Each blocking step runs in a worker thread, never on the event loop."""
    session = services.sessions()

    def finish() -> None:
        try:
            session.commit()
        finally:
            session.close()

    try:
        yield session
    except BaseException:
        await to_thread.run_sync(session.close)  # closing rolls back
        raise
    await to_thread.run_sync(finish)


def _caller(request: AnyRequest) -> Principal:
    return principal_of(request)


dependencies = {
    "services": Provide(_services, sync_to_thread=False),
    "db": Provide(_db),
    "caller": Provide(_caller, sync_to_thread=False),
}
