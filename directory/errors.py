"""Domain errors that know their HTTP status, and the one handler that writes problem+json."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException

__all__ = [
    "Conflict",
    "DomainError",
    "FieldError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PreconditionRequired",
    "StaleWrite",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "exception_handlers",
    "explain_pattern",
]

log = logging.getLogger("atelier.errors")
PROBLEM = "application/problem+json"
TYPE_BASE = "/problems/"  # a relative reference (RFC 9457 3.1.1)


class FieldError(msgspec.Struct, frozen=True):
    """One problem with one input field, located by a JSON pointer (RFC 6901)."""

    pointer: str
    detail: str


class DomainError(Exception):
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str, *, errors: Sequence[FieldError] = (), **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.extra = extra


class InvalidInput(DomainError):
    status, title, slug = 400, "Invalid input", "invalid-input"


class Unauthorized(DomainError):
    status, title, slug = 401, "Authentication required", "unauthorized"
    headers = {"WWW-Authenticate": 'Bearer realm="atelier"'}  # noqa: RUF012 - never mutated


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class StaleWrite(DomainError):
    status, title, slug = 412, "Precondition failed", "stale-write"


class UnsupportedMediaType(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class PreconditionRequired(DomainError):
    status, title, slug = 428, "Precondition required", "if-match-required"


class TooManyRequests(DomainError):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, detail: str, headers: dict[str, str]) -> None:
        super().__init__(detail)
        self.headers = headers


def problem_body(exc: DomainError) -> dict[str, Any]:
    """A domain error as a problem object, for a slot in a batch answer."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + exc.slug,
        "title": exc.title,
        "status": exc.status,
        "detail": exc.detail,
    }
    if exc.errors:
        body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in exc.errors]
    return {**body, **exc.extra}


async def each_or_problem(
    values: Sequence[Any], answer: Callable[[Any], Awaitable[Any]]
) -> list[Any]:
    """A batch answered in order: each value's answer, or its own problem object when it is
    bad input; one bad entry never fails the others."""
    results: list[Any] = []
    for value in values:
        try:
            results.append(await answer(value))
        except InvalidInput as err:
            results.append(problem_body(err))
    return results


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[bytes]:
    body: dict[str, Any] = {"type": TYPE_BASE + slug, "title": title, "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in errors]
    body.update(extra)
    return Response(
        msgspec.json.encode(body), status_code=status, media_type=PROBLEM, headers=headers
    )


def _domain(_: Request[Any, Any, Any], exc: DomainError) -> Response[bytes]:
    return Response(
        msgspec.json.encode(problem_body(exc)),
        status_code=exc.status,
        media_type=PROBLEM,
        headers=exc.headers,
    )


_AT = re.compile(r" - at `\$(.*)`$")
_UNKNOWN = re.compile(r"Object contains unknown field `(.+)`")
_FIELD = re.compile(r"^`(\w+)`: ")  # a field named by a check in __post_init__ (vocabulary.Input)


# What a documented pattern means, said in words instead of the regex msgspec quotes.
_PATTERN_MEANINGS: dict[str, str] = {}


def explain_pattern(pattern: str, meaning: str) -> None:
    """Register how to say that a value does not match ``pattern``."""
    _PATTERN_MEANINGS[pattern] = meaning


def _regex_of(message: str) -> str:
    head, _, rest = message.partition("matching regex '")
    if not rest:
        return ""
    return rest.rsplit("'", 1)[0].replace("\\\\", "\\")


def _pointer(key: str | None) -> str:
    """litestar reports 'address.postcode' or msgspec '$.brands[2]'; both become /address/…"""
    if not key:
        return ""
    key = key.removeprefix("$")
    parts = re.findall(r"[^.\[\]]+", key)
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def _validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid"))
        key = item.get("key")
        at = _AT.search(message)
        if at:
            key, message = at.group(1), message[: at.start()]
        message = _PATTERN_MEANINGS.get(_regex_of(message), message)
        source = getattr(item.get("source"), "value", item.get("source"))
        if source in ("body", None):
            pointer = _pointer(None if key == "data" else key)  # "data" is the body itself
            named = _UNKNOWN.match(message) or _FIELD.match(message)
            if named:  # point at the offending field, not at the object holding it
                pointer += _pointer(named.group(1))
                if named.re is _FIELD:
                    message = message[named.end() :]
        else:
            pointer = f"/{source}/{key}"
        errors.append(FieldError(pointer, message))
    detail = "the request does not match the schema" if errors else (exc.detail or "invalid")
    return problem(400, "Invalid input", detail, "invalid-input", errors)


def _http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    headers = dict(exc.headers or {})
    slug = re.sub(r"[^a-z0-9]+", "-", (exc.detail or "error").lower()).strip("-")[:40]
    title = {413: "Request body too large", 405: "Method not allowed"}.get(
        exc.status_code, exc.detail or "Error"
    )
    return problem(exc.status_code, title, exc.detail or title, slug or "error", headers=headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "Internal server error", "an unexpected error occurred", "internal")


exception_handlers: dict[Any, Any] = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    Exception: _unexpected,
}
