"""Repair jobs in plain words and the competences that do them (``jobs.toml``): what a person
picks when they do not know which scheme their car needs. Checked whole against the competence
catalogue at start-up, like it."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from certifications.catalogue import (
    Catalogue,
    CatalogueError,
    Domain,
    Names,
    SchemeId,
    default_catalogue,
)

__all__ = ["FILE", "Job", "Jobs", "default_jobs", "load_jobs"]

FILE = Path(__file__).with_name("jobs.toml")
JobId = Annotated[str, Meta(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=40)]


class Job(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: JobId
    domain: Domain
    name: Names
    any_of: Annotated[tuple[SchemeId, ...], Meta(min_length=1)]


class _File(msgspec.Struct, forbid_unknown_fields=True):
    jobs: Annotated[list[Job], Meta(min_length=1)]


class Jobs:
    """Jobs by id, in the file's order (the order the picker shows)."""

    def __init__(self, jobs: list[Job], catalogue: Catalogue) -> None:
        self.jobs: dict[str, Job] = {}
        for job in jobs:
            if job.id in self.jobs:
                raise CatalogueError(f"job {job.id!r} is defined twice")
            unknown = [s for s in job.any_of if s not in catalogue]
            if unknown:
                raise CatalogueError(f"job {job.id!r} names unknown schemes: {', '.join(unknown)}")
            if len(set(job.any_of)) != len(job.any_of):
                raise CatalogueError(f"job {job.id!r} names a scheme twice")
            self.jobs[job.id] = job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def __iter__(self) -> Iterator[Job]:
        return iter(self.jobs.values())

    def __len__(self) -> int:
        return len(self.jobs)


def load_jobs(path: Path = FILE, catalogue: Catalogue | None = None) -> Jobs:
    try:
        data = msgspec.toml.decode(path.read_bytes(), type=_File)
    except (OSError, msgspec.ValidationError, msgspec.DecodeError) as err:
        raise CatalogueError(f"{path.name}: {err}") from err
    return Jobs(data.jobs, catalogue or default_catalogue())


@cache
def default_jobs() -> Jobs:
    return load_jobs()
