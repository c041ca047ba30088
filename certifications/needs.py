"""The needs catalogue (``needs.toml``): from a vehicle and what is wrong with it (diagnostic
trouble codes) or what is to be done (repair jobs) to the competences a workshop needs, each
with the rule that asks for it, the reason in French and English, and the rule's source.

Checked whole at start-up against the competence catalogue and the jobs, like them; resolving
an intent is then a few comparisons a code (the rules are sorted once)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from certifications.catalogue import Catalogue, CatalogueError, Names, SchemeId, default_catalogue
from certifications.codes import Code, CodeError, parse_range
from certifications.jobs import Jobs, default_jobs

__all__ = [
    "FILE",
    "POWERTRAINS",
    "Need",
    "Needs",
    "Resolution",
    "Vehicle",
    "default_needs",
    "load_needs",
]

FILE = Path(__file__).with_name("needs.toml")
POWERTRAINS = ("ice", "hev", "phev", "bev", "fcev", "lpg", "cng")
Powertrain = Literal["ice", "hev", "phev", "bev", "fcev", "lpg", "cng"]
Brand = Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
RuleId = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=60)]
JobId = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=40)]
FALLBACK_JOB = "diagnostics"


class Programme(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    ev: tuple[SchemeId, ...] = ()
    authorised: tuple[SchemeId, ...] = ()


class _Rule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: RuleId
    brands: tuple[Brand, ...] = ()  # the rule holds for these brands only (none: any)
    powertrains: tuple[Powertrain, ...] = ()  # for these powertrains only (none: any)
    requires: tuple[JobId, ...] = ()
    prefers: tuple[SchemeId, ...] = ()
    programme: Literal["ev", "authorised"] | None = None
    reason: Names
    source: Annotated[str, Meta(min_length=1, max_length=300)]

    def holds_for(self, brand: str | None, powertrain: str | None) -> bool:
        return (not self.brands or brand in self.brands) and (
            not self.powertrains or powertrain in self.powertrains
        )

    def may_meet(self, other: _Rule) -> bool:
        """Could one vehicle satisfy both rules' conditions?"""
        return all(
            not mine or not theirs or bool(set(mine) & set(theirs))
            for mine, theirs in (
                (self.brands, other.brands),
                (self.powertrains, other.powertrains),
            )
        )


class CodeRule(_Rule, frozen=True, kw_only=True):
    codes: Annotated[tuple[str, ...], Meta(min_length=1)]


class JobRule(_Rule, frozen=True, kw_only=True):
    job: JobId


class _File(msgspec.Struct, forbid_unknown_fields=True):
    programmes: dict[Brand, Programme]
    codes: list[CodeRule]
    jobs: list[JobRule] = []


class Vehicle(msgspec.Struct, frozen=True, kw_only=True):
    brand: str | None = None
    powertrain: str | None = None


class Need(msgspec.Struct, frozen=True, kw_only=True):
    """One competence group a workshop should hold: a job (any of its competences) when
    required, schemes (any of) when preferred; why, and for which codes or jobs."""

    kind: Literal["required", "preferred"]
    job: str | None  # the repair job, for a required need
    competences: tuple[str, ...]  # any of
    rule: str
    reason: Names
    source: str
    asked_by: tuple[str, ...]  # the codes and jobs of the intent that led here
    fallback: bool = False  # no rule covers the code: multi-brand diagnostics


class Resolution(msgspec.Struct, frozen=True, kw_only=True):
    required: tuple[Need, ...]
    preferred: tuple[Need, ...]
    rules: dict[str, str | None]  # each code → the rule that decided it (None: fallback)


class _Range(msgspec.Struct, frozen=True):
    low: int
    high: int
    rule: CodeRule

    @property
    def rank(self) -> tuple[int, int, int]:
        # Narrowest first; among equal ranges, a brand condition, then a powertrain one.
        return (self.high - self.low, not self.rule.brands, not self.rule.powertrains)


_FALLBACK_REASON = Names(
    fr="Aucune règle ne couvre ce code : un diagnostic multimarque le lira et dira quoi réparer.",
    en="No rule covers this code: multi-brand diagnostics will read it and tell what to repair.",
)
_JOB_REASON = Names(fr="Le travail demandé.", en="The job asked for.")


class Needs:
    """The catalogue, checked: every name it uses exists, and no code has two rules that
    could both decide it for one vehicle."""

    def __init__(self, data: _File, catalogue: Catalogue, jobs: Jobs) -> None:
        self.jobs = jobs
        self.programmes = data.programmes
        for brand, programme in data.programmes.items():
            for scheme in (*programme.ev, *programme.authorised):
                if scheme not in catalogue:
                    raise CatalogueError(f"programme {brand!r} names unknown scheme {scheme!r}")
        seen: set[str] = set()
        ranges: list[_Range] = []
        for rule in [*data.codes, *data.jobs]:
            if rule.id in seen:
                raise CatalogueError(f"rule {rule.id!r} is defined twice")
            seen.add(rule.id)
            for job in rule.requires:
                if jobs.get(job) is None:
                    raise CatalogueError(f"rule {rule.id!r} requires unknown job {job!r}")
            for scheme in rule.prefers:
                if scheme not in catalogue:
                    raise CatalogueError(f"rule {rule.id!r} prefers unknown scheme {scheme!r}")
            if not (rule.requires or rule.prefers or rule.programme):
                raise CatalogueError(f"rule {rule.id!r} asks for nothing")
        for rule in data.codes:
            if not rule.requires:
                raise CatalogueError(f"code rule {rule.id!r} requires no job")
            for text in rule.codes:
                try:
                    low, high = parse_range(text)
                except CodeError as err:
                    raise CatalogueError(f"rule {rule.id!r}: {err}") from err
                ranges.append(_Range(low, high, rule))
        _check_overlaps(ranges)
        self._ranges = sorted(ranges, key=lambda r: r.rank)
        self._job_rules: dict[str, list[JobRule]] = {}
        for job_rule in data.jobs:
            if jobs.get(job_rule.job) is None:
                raise CatalogueError(f"rule {job_rule.id!r} is about unknown job {job_rule.job!r}")
            for other in self._job_rules.get(job_rule.job, []):
                if other.may_meet(job_rule):
                    raise CatalogueError(
                        f"rules {other.id!r} and {job_rule.id!r} could both apply to one "
                        f"vehicle's {job_rule.job!r}: give them conditions that exclude each other"
                    )
            self._job_rules.setdefault(job_rule.job, []).append(job_rule)

    def rule_for(self, code: Code, vehicle: Vehicle) -> CodeRule | None:
        """The rule that decides ``code`` for this vehicle, or None (the fallback)."""
        value = code.value
        for candidate in self._ranges:  # narrowest first: the first that holds decides
            if candidate.low <= value <= candidate.high and candidate.rule.holds_for(
                vehicle.brand, vehicle.powertrain
            ):
                return candidate.rule
        return None

    def _programme(self, rule: _Rule, vehicle: Vehicle) -> tuple[str, ...]:
        if rule.programme is None or vehicle.brand is None:
            return ()
        programme = self.programmes.get(vehicle.brand)
        return getattr(programme, rule.programme) if programme else ()

    def resolve(self, vehicle: Vehicle, codes: Iterable[Code], jobs: Iterable[str]) -> Resolution:
        """Every need of the intent, merged: one required need a job, one preferred need a
        rule, each naming every code or job that asked for it."""
        required: dict[str, dict[str, Any]] = {}
        preferred: dict[str, dict[str, Any]] = {}
        decided: dict[str, str | None] = {}

        def ask(
            rule_id: str,
            reason: Names,
            source: str,
            by: str,
            requires: Iterable[str],
            prefers: tuple[str, ...],
            fallback: bool,
        ) -> None:
            for job in requires:
                entry = required.setdefault(
                    job,
                    {"rule": rule_id, "reason": reason, "source": source, "by": []},
                )
                entry.setdefault("fallback", fallback)
                if entry["fallback"] and not fallback:  # a rule's reason beats the fallback's
                    entry |= {"rule": rule_id, "reason": reason, "source": source}
                    entry["fallback"] = False
                if by not in entry["by"]:
                    entry["by"].append(by)
            if prefers:
                entry = preferred.setdefault(
                    rule_id, {"reason": reason, "source": source, "by": [], "schemes": prefers}
                )
                if by not in entry["by"]:
                    entry["by"].append(by)

        for code in codes:
            rule = self.rule_for(code, vehicle)
            decided[code.code] = rule.id if rule else None
            if rule is None:
                programme = self.programmes.get(vehicle.brand or "")
                ask(
                    "fallback",
                    _FALLBACK_REASON,
                    "Atelier: codes no rule covers",
                    code.code,
                    [FALLBACK_JOB],
                    programme.authorised if programme and code.scope == "manufacturer" else (),
                    fallback=True,
                )
                continue
            ask(
                rule.id,
                rule.reason,
                rule.source,
                code.code,
                rule.requires,
                (*rule.prefers, *self._programme(rule, vehicle)),
                fallback=False,
            )
        for job in jobs:
            ask(f"job:{job}", _JOB_REASON, "jobs.toml", job, [job], (), fallback=False)
            for job_rule in self._job_rules.get(job, []):
                if job_rule.holds_for(vehicle.brand, vehicle.powertrain):
                    ask(
                        job_rule.id,
                        job_rule.reason,
                        job_rule.source,
                        job,
                        job_rule.requires,
                        (*job_rule.prefers, *self._programme(job_rule, vehicle)),
                        fallback=False,
                    )
        return Resolution(
            required=tuple(
                Need(
                    kind="required",
                    job=job,
                    competences=self.jobs.jobs[job].any_of,
                    rule=e["rule"],
                    reason=e["reason"],
                    source=e["source"],
                    asked_by=tuple(e["by"]),
                    fallback=e["fallback"],
                )
                for job, e in required.items()
            ),
            preferred=tuple(
                Need(
                    kind="preferred",
                    job=None,
                    competences=tuple(dict.fromkeys(e["schemes"])),
                    rule=rule_id,
                    reason=e["reason"],
                    source=e["source"],
                    asked_by=tuple(e["by"]),
                )
                for rule_id, e in preferred.items()
            ),
            rules=decided,
        )


def _check_overlaps(ranges: list[_Range]) -> None:
    """Ranges nest or stay apart; equal ranges need conditions that tell them apart."""
    ordered = sorted(ranges, key=lambda r: (r.low, -r.high))
    for i, one in enumerate(ordered):
        for other in ordered[i + 1 :]:
            if other.low > one.high:
                break
            if one.rule.id == other.rule.id:
                raise CatalogueError(f"rule {one.rule.id!r} names overlapping codes")
            nested = other.high <= one.high
            if not nested:
                raise CatalogueError(
                    f"rules {one.rule.id!r} and {other.rule.id!r} overlap without one range "
                    "holding the other: which decides the codes they share?"
                )
            same = (one.low, one.high) == (other.low, other.high)
            if same and one.rank == other.rank and one.rule.may_meet(other.rule):
                raise CatalogueError(
                    f"rules {one.rule.id!r} and {other.rule.id!r} could both decide the same "
                    "code for one vehicle"
                )


def load_needs(
    path: Path = FILE, catalogue: Catalogue | None = None, jobs: Jobs | None = None
) -> Needs:
    try:
        data = msgspec.toml.decode(path.read_bytes(), type=_File)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as err:
        raise CatalogueError(f"{path.name}: {err}") from err
    return Needs(data, catalogue or default_catalogue(), jobs or default_jobs())


@cache
def default_needs() -> Needs:
    return load_needs()
