"""What every command shares: the settings and session factory of the environment it runs in,
the operator it acts as, progress bars, and readable failures."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy.orm import Session, sessionmaker

from certifications import jws
from certifications.catalogue import CatalogueError
from directory.audit import Actor, acting_as
from directory.db import make_engine
from directory.errors import DomainError
from directory.logs import configure_logging
from directory.outbox.hooks import make_sessionmaker
from directory.profiles.importer import RowError
from directory.settings import Settings, SettingsError, load_settings
from search.errors import SearchEngineError

__all__ = ["Context", "fail_readably", "pass_ctx", "progress"]

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    def __init__(self) -> None:
        try:
            self.settings: Settings = load_settings()
        except SettingsError as err:
            raise click.ClickException(str(err)) from err
        configure_logging(self.settings.log_level)
        # Writes made from the command line are audited as the operator who ran it (for the
        # length of the command: the context is restored when click closes it).
        click.get_current_context().with_resource(
            acting_as(Actor(kind="cli", id=getpass.getuser()))
        )

    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(make_engine(self.settings.database_url))


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def fail_readably(func: F) -> F:
    """Turn the errors a user can cause into a one-line message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (
            DomainError,
            SearchEngineError,
            RowError,
            OSError,
            CatalogueError,
            jws.JWSError,
        ) as err:
            raise click.ClickException(str(err)) from err

    return wrapper  # type: ignore[return-value]


def progress() -> Progress:
    """A progress bar on stderr when it is a terminal (silent in logs and CI)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=None,
        transient=False,
        disable=not sys.stderr.isatty(),
    )
