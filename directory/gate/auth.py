"""Who is calling: every request is resolved once, at the edge, to a Principal (anonymous, a
repairer account, or an API key), rate-limited against its own bucket, and checked for CSRF when
it rides on a session cookie. Routes then only ask the Principal what it may do."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import msgspec
from anyio import to_thread
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy.orm import Session, sessionmaker

from directory.audit import Actor, current_actor
from directory.db import transaction, utcnow
from directory.errors import (
    PROBLEM,
    DomainError,
    Forbidden,
    TooManyRequests,
    Unauthorized,
    problem_body,
)
from directory.gate import keys, ratelimit
from directory.gate.sessions import digest, find_session
from directory.ops.counters import RATE_LIMITED
from directory.services import Services
from directory.settings import Settings

__all__ = [
    "COOKIE",
    "CSRF_HEADER",
    "Principal",
    "gate",
    "principal_of",
    "require_account",
    "require_scope",
    "require_writer",
]

COOKIE = "atelier_session"
CSRF_HEADER = "x-csrf-token"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_SAFE = {"GET", "HEAD"}
log = logging.getLogger("atelier.auth")


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    kind: Literal["anonymous", "account", "key"]
    id: str | None = None  # account id or key id
    label: str | None = None  # what the audit trail shows: account id or key prefix
    scopes: frozenset[str] = frozenset()
    integration: str | None = None  # keys: the integration they act for
    session_id: str | None = None  # accounts: the session used, so logout can end it
    client: str = "unknown"

    @property
    def admin(self) -> bool:
        return self.kind == "key" and "admin" in self.scopes

    def holds(self, scope: str) -> bool:
        return self.kind == "key" and (scope in self.scopes or "admin" in self.scopes)


ANONYMOUS = Principal(kind="anonymous")


def _credentials(scope: Scope) -> tuple[str | None, str | None, str | None, str | None]:
    """(bearer token, session cookie, CSRF header, X-Forwarded-For) from the raw headers."""
    bearer = cookie = csrf = xff = None
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            # A malformed Authorization header ("") is refused, never ignored.
            bearer = token.strip() if kind.lower() == "bearer" and token.strip() else ""
        elif name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == COOKIE and v:
                    cookie = v
        elif name == CSRF_HEADER.encode():
            csrf = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            xff = value.decode("latin-1")
    return bearer, cookie, csrf, xff


# What runs a search on every request, anonymous use of which is limited like search: the API's,
# the results page's (a search when it has a place) and a repair intent's.
SEARCH_PATHS = frozenset({"/v1/search", "/", "/v1/repair-intents"})


def _bucket(method: str, path: str, principal: Principal, settings: Settings) -> tuple[str, int]:
    """Which bucket a request draws from, and its limit a minute."""
    who = principal.id if principal.kind != "anonymous" else f"ip:{principal.client}"
    if path.startswith("/v1/auth/") and method == "POST":
        # Per address even when signed in: guessing passwords must not scale with accounts.
        return f"auth:{principal.client}", settings.rate_auth
    if principal.kind == "anonymous":
        if path in SEARCH_PATHS:
            return f"search:{who}", settings.rate_search_anonymous
        return f"api:{who}", settings.rate_anonymous
    return f"api:{who}", settings.rate_authenticated


def _csrf_ok(auth_session: Any, csrf: str | None) -> bool:
    expected: str | None = auth_session.csrf_hash
    return bool(expected and csrf and hmac.compare_digest(expected, digest(csrf)))


def _admit(
    sessions: sessionmaker[Session],
    settings: Settings,
    method: str,
    path: str,
    bearer: str | None,
    cookie: str | None,
    csrf: str | None,
    client: str,
    limiter: ratelimit.Limiter,
) -> tuple[Principal, ratelimit.Verdict]:
    """Resolves the caller and counts the request, in one short transaction. A refused
    credential is counted too, against the client's anonymous budget, before the refusal is
    raised: made-up tokens cost a look-up each, so they must run out like any request."""
    now = utcnow()
    refusal: DomainError | None = None
    with transaction(sessions) as session:
        principal = ANONYMOUS
        try:
            principal = _resolve(session, method, bearer, cookie, csrf, now)
        except (Unauthorized, Forbidden) as err:
            refusal = err
        principal = msgspec.structs.replace(principal, client=client)
        key_name, limit = _bucket(method, path, principal, settings)
        verdict = limiter.count(session, key_name, limit, time.time())
    if refusal is not None and verdict.allowed:
        raise refusal
    return principal, verdict


def _resolve(
    session: Session,
    method: str,
    bearer: str | None,
    cookie: str | None,
    csrf: str | None,
    now: datetime,
) -> Principal:
    if bearer is not None and bearer.startswith("atk_"):  # keys never ride in cookies
        key = keys.verify(session, bearer, now)
        if key is None:
            raise Unauthorized("unknown, revoked or expired API key")
        return Principal(
            kind="key",
            id=key.id,
            label=key.prefix,
            scopes=frozenset(key.scopes),
            integration=key.integration,
        )
    if (token := bearer if bearer is not None else cookie) is not None:
        found = find_session(session, token, now)
        if found is not None:
            auth_session, account = found
            # A cookie rides along on any request a browser makes, even one another site
            # triggers: changes need the CSRF token only our own page can read.
            if bearer is None and method in _UNSAFE and not _csrf_ok(auth_session, csrf):
                raise Forbidden(f"missing or wrong {CSRF_HEADER} header for a cookie session")
            return Principal(
                kind="account", id=account.id, label=account.id, session_id=auth_session.id
            )
        if bearer is not None or method in _UNSAFE:
            raise Unauthorized("unknown, expired or revoked session; log in again")
        # else: a stale cookie on a public page: browse on as anonymous.
    return ANONYMOUS


def gate(app: ASGIApp) -> ASGIApp:
    """The middleware: resolve, limit, then hand on with the RateLimit headers added."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health/"):
            await app(scope, receive, send)
            return
        services = scope["app"].state.services
        settings: Settings = services.settings
        bearer, cookie, csrf, xff = _credentials(scope)
        peer = scope["client"][0] if scope.get("client") else None  # type: ignore[index]
        client = ratelimit.client_address(peer, xff, settings.trusted_proxies)
        if bearer == "":
            raise Unauthorized("send Authorization: Bearer <token>")
        if bearer is None and cookie is None and scope["method"] in _SAFE:  # type: ignore[typeddict-item]
            await _anonymous_read(app, scope, receive, send, services, settings, client)
            return
        principal, verdict = await to_thread.run_sync(
            _admit,
            services.sessions,
            settings,
            scope["method"],  # type: ignore[typeddict-item]
            scope["path"],
            bearer,
            cookie,
            csrf,
            client,
            services.limiter,
        )
        if not verdict.allowed:
            RATE_LIMITED.inc()
            raise TooManyRequests(
                f"more than {verdict.limit} requests a minute; retry in {verdict.retry_after_s} s",
                verdict.headers(),
            )
        scope.setdefault("state", {})["principal"] = principal
        # Read by the audit hook for every row this request writes.
        current_actor.set(Actor(kind=principal.kind, id=principal.label, ip=client))
        extra = [(k.lower().encode(), v.encode()) for k, v in verdict.headers().items()]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await app(scope, receive, send_with_headers)

    return middleware


async def _anonymous_read(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    services: Services,
    settings: Settings,
    client: str,
) -> None:
    """An anonymous read (a driver's search, a profile) has no credentials to resolve. It is
    admitted on this process's view of its bucket, with no database and no thread
    (``Limiter.admit``); the view's refusals are the shared bucket's, so a client over the
    limit is turned away before any work. Once every ``lease_size - 1`` requests the shared
    bucket is read (``Limiter.settle``) in a thread while the request runs, and its verdict
    is applied before the first byte is sent, so that round trip overlaps the engine's. Reads
    change nothing, so running one that turns out to be over the limit costs only the work.
    Once a second, what the process admitted is added to the shared buckets in the
    background (``Limiter.flush``)."""
    principal = Principal(kind="anonymous", client=client)
    key, limit = _bucket(scope["method"], scope["path"], principal, settings)  # type: ignore[typeddict-item]
    now = time.time()
    limiter: ratelimit.Limiter = services.limiter
    admitted = limiter.admit(key, limit, now)
    if admitted is not None and not admitted.allowed:
        RATE_LIMITED.inc()
        raise TooManyRequests(
            f"more than {limit} requests a minute; retry in {admitted.retry_after_s} s",
            admitted.headers(),
        )
    if limiter.flush_due(now):
        _in_background(limiter.flush, services.sessions, now)
    pending: asyncio.Future[ratelimit.Verdict]
    if admitted is not None:
        pending = asyncio.get_running_loop().create_future()  # no database, no thread
        pending.set_result(admitted)
    else:
        pending = asyncio.ensure_future(
            to_thread.run_sync(limiter.settle, services.sessions, key, limit, now)
        )
    scope.setdefault("state", {})["principal"] = principal
    current_actor.set(Actor(kind="anonymous", ip=client))
    refused = False

    async def send_checked(message: Message) -> None:
        nonlocal refused
        if message["type"] == "http.response.start":
            try:
                verdict = await pending
            except Exception:  # noqa: BLE001 - the record is down: searches still answer
                log.warning("rate limit not counted: database unreachable", exc_info=True)
                await send(message)
                return
            if not verdict.allowed:
                RATE_LIMITED.inc()
                refused = True
                await _send_problem(send, verdict)
                return
            extra = [(k.lower().encode(), v.encode()) for k, v in verdict.headers().items()]
            message["headers"] = [*message.get("headers", []), *extra]
        elif refused:
            return  # the body of the answer that was replaced
        await send(message)

    try:
        await app(scope, receive, send_checked)
    finally:
        if not pending.done():
            with contextlib.suppress(Exception):
                await pending


_background: set[asyncio.Future[Any]] = set()  # held until done: the loop keeps weak references


def _in_background(work: Callable[..., Any], *args: Any) -> None:
    """Runs ``work`` in a worker thread without holding up the request that noticed it due."""

    def done(future: asyncio.Future[Any]) -> None:
        _background.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.warning(
                "rate limits not written: database unreachable", exc_info=future.exception()
            )

    future = asyncio.ensure_future(to_thread.run_sync(work, *args))
    _background.add(future)
    future.add_done_callback(done)


async def _send_problem(send: Send, verdict: ratelimit.Verdict) -> None:
    body = msgspec.json.encode(
        problem_body(
            TooManyRequests(
                f"more than {verdict.limit} requests a minute; retry in {verdict.retry_after_s} s",
                {},
            )
        )
    )
    headers = [
        (b"content-type", PROBLEM.encode()),
        (b"content-length", str(len(body)).encode()),
        *[(k.lower().encode(), v.encode()) for k, v in verdict.headers().items()],
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    return connection.scope.get("state", {}).get("principal", ANONYMOUS)


# --- guards ---------------------------------------------------------------------------------------


def require_scope(scope: keys.Scope):
    """The caller must be an API key holding ``scope`` (admin holds all)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = principal_of(connection)
        if principal.kind == "anonymous":
            raise Unauthorized("send Authorization: Bearer <api key>")
        if not principal.holds(scope):
            raise Forbidden(f"this needs an API key with the {scope!r} scope")

    return guard


async def require_account(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    principal = principal_of(connection)
    if principal.kind == "anonymous":
        raise Unauthorized("log in first: Authorization: Bearer <session token>")
    if principal.kind != "account":
        raise Forbidden("this is for repairer accounts, not API keys")


async def require_writer(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """A repairer account (what it may touch is decided where the object is loaded) or an
    administrator key."""
    principal = principal_of(connection)
    if principal.kind == "anonymous":
        raise Unauthorized("log in, or send an administrator's API key")
    if principal.kind == "key" and not principal.admin:
        raise Forbidden("integration keys cannot change profiles; this needs an account or admin")
