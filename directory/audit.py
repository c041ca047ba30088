"""Who is acting: set once per request (or CLI command), read by the flush hook that writes the
audit trail, so every write is recorded with its author and origin without each service
function having to remember it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import msgspec

__all__ = ["Actor", "acting_as", "current_actor"]


class Actor(msgspec.Struct, frozen=True):
    kind: str  # "key", "account", "issuer", "cli", "system"
    id: str | None = None
    ip: str | None = None


# Actor is frozen: sharing the default is safe.
current_actor: ContextVar[Actor] = ContextVar("current_actor", default=Actor("system"))  # noqa: B039


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = current_actor.set(actor)
    try:
        yield
    finally:
        current_actor.reset(token)
