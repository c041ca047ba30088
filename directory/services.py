"""What a running service holds: one typed container, built by ``create_app`` and handed to the
routes by dependency injection (``directory/http.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from certifications.catalogue import Catalogue
from certifications.jobs import Jobs
from certifications.needs import Needs
from directory.gate.ratelimit import Limiter
from directory.mail import Mailer
from directory.settings import Settings
from search.engine import MeiliProcess
from search.geocode import Gazetteer, Geocoder
from search.index import IndexWriter
from search.searcher import MeiliSearcher

__all__ = ["Services"]


@dataclass(kw_only=True)
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    catalogue: Catalogue
    jobs: Jobs  # repair jobs in plain words, checked against the catalogue
    needs: Needs  # what codes and jobs need from a workshop (repair intents)
    geocoder: Geocoder  # addresses of sites (may be a web service)
    gazetteer: Gazetteer  # places typed by a person in a search (always offline)
    mailer: Mailer
    # This process's share of the rate limits kept in the database.
    limiter: Limiter = field(default_factory=Limiter)
    meili_url: str | None = None
    searcher: MeiliSearcher | None = None  # search-only key; None: searches use the database
    writer: IndexWriter | None = None  # write key; set when the sync worker runs in-process
    meili_process: MeiliProcess | None = None  # the managed engine, when we run it
