"""What every route shares: path and header parameter types, the ETag helpers, and the providers
Litestar injects — ``app_services`` (what the process holds), ``db`` (one transaction per request)
and ``caller`` (who is calling, resolved once by the gate)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

from anyio import to_thread
from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter, PathParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.orm import Session

from directory.db import etag
from directory.errors import FieldError, InvalidInput, UnsupportedMediaType
from directory.gate.auth import Principal, principal_of
from directory.services import Services

__all__ = [
    "AnyRequest",
    "AtelierRequest",
    "Caller",
    "Db",
    "Deps",
    "Id",
    "IfMatch",
    "QUERY_TEXT",
    "complete_methods",
    "dependencies",
    "etag",
    "refuse_malformed",
    "secure_headers",
    "tagged",
]

AnyRequest = Request[Any, Any, Any]
Id = Annotated[str, PathParameter(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
# A query parameter's text: what the edge lets through (refuse_malformed).
QUERY_TEXT = r"^[^\x00-\x1f\x7f-\x9f]*$"
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


class AtelierRequest(Request[Any, Any, Any]):
    """Litestar turns msgspec's DecodeError into a 400, but a body that is not UTF-8 raises
    UnicodeDecodeError and one nested past the decoder's depth RecursionError: both are the
    client's malformed JSON, said so here where the body is decoded, not caught as 500s later."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError as err:
            raise InvalidInput(
                "the body is not valid JSON", errors=[FieldError("", "not UTF-8 text")]
            ) from err
        except RecursionError as err:
            raise InvalidInput(
                "the body is not valid JSON", errors=[FieldError("", "nested too deeply")]
            ) from err


# C0 and C1 control characters, raw or percent-encoded (in UTF-8), in a path or a query string.
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]|%(?:[01][0-9a-fA-F]|7[fF])|%[cC]2%[89][0-9a-fA-F]")
_JSON = re.compile(rb"^application/(?:[\w.+-]+\+)?json\s*(?:;|$)", re.IGNORECASE)
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def refuse_malformed(app: ASGIApp) -> ASGIApp:
    """The request's own shape, before anything reads it: no control characters in the path or
    the query (a NUL byte reached PostgreSQL as a 500), and a body only as JSON (415 otherwise)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw_path = scope.get("raw_path") or scope["path"].encode()
            if _CONTROL.search(raw_path) or _CONTROL.search(scope.get("query_string", b"")):
                raise InvalidInput(
                    "control characters are not allowed in a URL",
                    errors=[FieldError("/query", "remove control characters (NUL, ESC, CR, LF …)")],
                )
            if scope["method"] in _BODY_METHODS:  # type: ignore[typeddict-item]
                content_type = b""
                has_body = False
                for name, value in scope["headers"]:
                    if name == b"content-type":
                        content_type = value
                    elif name == b"content-length":
                        has_body = value.strip() not in (b"", b"0")
                    elif name == b"transfer-encoding":
                        has_body = True
                if has_body and not _JSON.match(content_type):
                    raise UnsupportedMediaType(
                        "send the body as JSON: Content-Type: application/json"
                    )
        await app(scope, receive, send)

    return middleware


# What every answer says to a browser that may render it: never sniff a type, never be framed,
# load nothing and run nothing (a JSON API has no page). The API reference page, the one HTML
# page so far, may run our own script and style itself (Scalar injects its styles at run time).
_API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
_REFERENCE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


async def secure_headers(message: Message, scope: Scope) -> None:
    """Browser hardening on every answer, the router's own 404 and 405 included (a before-send
    hook, which sees them; middleware does not); ``Cache-Control: no-store`` on those that may
    carry a secret (anything under /v1/auth/, anything that sets a cookie)."""
    if message["type"] != "http.response.start":
        return
    path = scope.get("path", "")
    headers = list(message.get("headers", []))
    names = {name.lower() for name, _ in headers}
    headers += [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    if b"referrer-policy" not in names:  # the pages send their origin to the map tiles
        headers.append((b"referrer-policy", b"no-referrer"))
    if b"content-security-policy" not in names:
        csp = _REFERENCE_CSP if path in ("/schema", "/schema/") else _API_CSP
        headers.append((b"content-security-policy", csp.encode()))
    if path.startswith("/v1/auth/") or b"set-cookie" in names:
        headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
        headers.append((b"cache-control", b"no-store"))
    message["headers"] = headers


def complete_methods(app: Litestar) -> None:
    """HEAD on every GET resource (answered as GET, without the body), and OPTIONS answered
    with the methods the path really has: Litestar refuses HEAD with 405, and its generated
    OPTIONS answer lists only one controller's methods where two share a path."""

    def template(path: str) -> str:  # "/v1/sites/{site_id:str}" and "/v1/sites/{site_id}" alike
        return re.sub(r":[^}]+}", "}", path)

    allowed: dict[str, set[str]] = {}
    for route in app.routes:
        methods = allowed.setdefault(template(route.path), set())
        methods |= set(getattr(route, "methods", ()))
        if "GET" in methods:
            methods.add("HEAD")
    inner = app.asgi_handler

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"HEAD", "OPTIONS"}:  # type: ignore[typeddict-item]
            await inner(scope, receive, send)
            return
        head = scope["method"] == "HEAD"  # type: ignore[typeddict-item]
        if head:
            scope["method"] = "GET"  # type: ignore[typeddict-unknown-key]

        async def send_adjusted(message: Message) -> None:
            if message["type"] == "http.response.start" and not head:
                methods = allowed.get(template(scope.get("path_template", "")))
                if methods:
                    value = ", ".join(sorted(methods | {"OPTIONS"})).encode()
                    message["headers"] = [
                        *((n, v) for n, v in message.get("headers", []) if n.lower() != b"allow"),
                        (b"allow", value),
                    ]
            elif message["type"] == "http.response.body" and head:
                message = {**message, "body": b""}
            await send(message)

        await inner(scope, receive, send_adjusted)

    app.asgi_handler = handler


def _services(state: State) -> Services:
    return state.services


async def _db(app_services: Deps) -> AsyncIterator[Session]:
    """One transaction per request, committed in this one place once the handler has returned
    (and before the answer is sent, so a failed commit is the answer), rolled back on any error.
    Each blocking step runs in a worker thread, never on the event loop."""
    session = app_services.sessions()

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
    # Named so that no body field can share the name: Litestar reports a failed body field under
    # its last key, and one that equals a dependency's name (a site's "services") is taken for a
    # failed dependency and answered 500.
    "app_services": Provide(_services, sync_to_thread=False),
    "db": Provide(_db),
    "caller": Provide(_caller, sync_to_thread=False),
}
