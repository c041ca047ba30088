"""The competence catalogue: schemes are data (catalogue/*.toml), checked whole at start-up."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = [
    "DOMAINS",
    "ISSUER_KINDS",
    "Catalogue",
    "CatalogueError",
    "Scheme",
    "default_catalogue",
    "load_catalogue",
]

FOLDER = Path(__file__).parent / "catalogue"
DOMAINS = (
    "ev-high-voltage",
    "security-rmi",
    "air-conditioning",
    "adas",
    "diagnostics",
    "oem",
    "electrical",
)
ISSUER_KINDS = (
    "employer",
    "training-body",
    "certification-body",
    "carmaker",
    "insurer",
    "network",
    "authority",
)

SchemeId = Annotated[str, Meta(pattern=r"^[a-z0-9]+(\.[a-z0-9-]+)+$", max_length=80)]
Domain = Literal[
    "ev-high-voltage",
    "security-rmi",
    "air-conditioning",
    "adas",
    "diagnostics",
    "oem",
    "electrical",
]
IssuerKind = Literal[
    "employer", "training-body", "certification-body", "carmaker", "insurer", "network", "authority"
]
Jurisdiction = Annotated[str, Meta(pattern=r"^(?:[A-Z]{2}|EU)$")]


class CatalogueError(ValueError):
    """The catalogue is inconsistent; the service must not start with it."""


class Names(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    fr: Annotated[str, Meta(min_length=1)]
    en: Annotated[str, Meta(min_length=1)]


class Scheme(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: SchemeId
    name: Names
    domain: Domain
    level: Annotated[int, Meta(ge=0, le=9)] = 0
    implies: tuple[SchemeId, ...] = ()
    holder: Literal["person", "site"]
    default_validity_days: Annotated[int, Meta(ge=1, le=3660)] | None = None
    jurisdictions: Annotated[tuple[Jurisdiction, ...], Meta(min_length=1)]
    issuer_kinds: Annotated[tuple[IssuerKind, ...], Meta(min_length=1)]
    basis: Annotated[str, Meta(min_length=1)]


class Family(msgspec.Struct, forbid_unknown_fields=True):
    family: str
    schemes: list[Scheme]


class Catalogue:
    """Schemes by id, with each scheme's implications closed transitively."""

    def __init__(self, schemes: Iterable[Scheme]) -> None:
        self.schemes: dict[str, Scheme] = {}
        for scheme in schemes:
            if scheme.id in self.schemes:
                raise CatalogueError(f"scheme {scheme.id!r} is defined twice")
            self.schemes[scheme.id] = scheme
        for scheme in self.schemes.values():
            for target in scheme.implies:
                if target not in self.schemes:
                    raise CatalogueError(f"{scheme.id} implies unknown scheme {target!r}")
                if self.schemes[target].holder != scheme.holder:
                    raise CatalogueError(f"{scheme.id} implies {target}, held by another kind")
        self._closure = {sid: self._close(sid) for sid in self.schemes}

    def _close(self, start: str) -> frozenset[str]:
        """Every scheme ``start`` implies, itself included; a cycle is an error, named."""
        done: set[str] = set()

        def visit(sid: str, path: tuple[str, ...]) -> None:
            if sid in path:
                cycle = " -> ".join((*path[path.index(sid) :], sid))
                raise CatalogueError(f"cycle in implies: {cycle}")
            if sid in done:
                return
            for target in self.schemes[sid].implies:
                visit(target, (*path, sid))
            done.add(sid)

        visit(start, ())
        return frozenset(done)

    def implied_by(self, scheme_id: str) -> frozenset[str]:
        """The schemes a holder of ``scheme_id`` also holds (itself included)."""
        return self._closure[scheme_id]

    def satisfying(self, scheme_id: str) -> frozenset[str]:
        """The schemes whose holders satisfy ``scheme_id`` (those that imply it, and itself)."""
        return frozenset(s for s, closure in self._closure.items() if scheme_id in closure)

    def get(self, scheme_id: str) -> Scheme | None:
        return self.schemes.get(scheme_id)

    def __contains__(self, scheme_id: object) -> bool:
        return scheme_id in self.schemes

    def __len__(self) -> int:
        return len(self.schemes)


def load_catalogue(folder: Path = FOLDER) -> Catalogue:
    """Every ``*.toml`` family in ``folder``; unknown keys, dangling ids and cycles are errors."""
    schemes: list[Scheme] = []
    files = sorted(folder.glob("*.toml"))
    if not files:
        raise CatalogueError(f"no catalogue files in {folder}")
    for path in files:
        try:
            family = msgspec.toml.decode(path.read_bytes(), type=Family)
        except (msgspec.ValidationError, msgspec.DecodeError) as err:
            raise CatalogueError(f"{path.name}: {err}") from err
        schemes += family.schemes
    return Catalogue(schemes)


@cache
def default_catalogue() -> Catalogue:
    return load_catalogue()
