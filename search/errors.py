"""One family of errors for the search engine, raised from ``search/`` only.

``EngineUnavailable``: the engine could not be found, started or reached, or answered 5xx: retry
later, and meanwhile answer from the database. ``EngineRefused``: the engine answered and said
no (a 4xx): retrying the same request will not help; it is our bug or a bad document.
"""

from __future__ import annotations

__all__ = ["EngineRefused", "EngineUnavailable", "SearchEngineError", "UnboundedQuery"]


class SearchEngineError(RuntimeError):
    """Anything the search engine did not do."""


class EngineUnavailable(SearchEngineError):
    """Not found, not started, not reachable, or failing (5xx): try again later."""


class EngineRefused(SearchEngineError):
    """The engine refused a request (4xx): the same request will be refused again."""


class UnboundedQuery(SearchEngineError):
    """The engine is healthy but this query cannot be paged by region (more matches than one
    request may fetch at one distance): answer it from the database, and say why."""
