"""The drivers' pages, served by the same application as the API."""

from __future__ import annotations

from typing import Any

from directory.web import assets, competence, crawlers, home, profile

__all__ = ["route_handlers"]

route_handlers: list[Any] = [
    home.home,
    profile.profile,
    competence.competence,
    crawlers.robots,
    crawlers.sitemap,
    crawlers.sitemap_part,
    assets.static,
]
