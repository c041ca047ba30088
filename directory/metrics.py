"""GET /metrics in Prometheus text: request counts and latencies per route (Litestar's
Prometheus middleware, paths grouped by route template), what the service counts itself
(searches per backend, rate-limit refusals, failed logins), and the state of the record read at
scrape time (outbox backlog and its age, parked events, pending listing claims)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litestar import Controller, Response, get
from litestar.datastructures import State
from litestar.plugins.prometheus import PrometheusConfig
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from directory.auth import require_scope
from directory.db import transaction, utcnow
from directory.models import ListingClaim, OutboxEvent

__all__ = ["MetricsController", "prometheus"]


# Paths grouped by route template ("/v1/sites/{site_id}"), or every id would be a new series.
prometheus = PrometheusConfig(
    app_name="atelier", prefix="atelier", group_path=True, exclude=["/metrics", "/health"]
)


class RecordCollector(Collector):
    """Read from the database at each scrape: the numbers an operator alerts on."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with transaction(self.sessions) as session:
            pending = OutboxEvent.processed_at.is_(None) & OutboxEvent.parked_at.is_(None)
            backlog, oldest = session.execute(
                select(func.count(), func.min(OutboxEvent.created_at)).where(pending)
            ).one()
            parked = session.scalar(select(func.count()).where(OutboxEvent.parked_at.is_not(None)))
            claims = session.scalar(select(func.count()).where(ListingClaim.status == "pending"))
        age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "atelier_outbox_pending", "Changes not yet in the search index", value=backlog or 0
        )
        yield GaugeMetricFamily(
            "atelier_outbox_oldest_pending_seconds",
            "Age of the oldest change not yet in the index (the index lag)",
            value=max(age, 0.0),
        )
        yield GaugeMetricFamily(
            "atelier_outbox_parked", "Changes set aside after repeated failures", value=parked or 0
        )
        yield GaugeMetricFamily(
            "atelier_listing_claims_pending",
            "Ownership claims awaiting a decision",
            value=claims or 0,
        )


class MetricsController(Controller):
    # On a controller, so each application gets its own handler (see docs/decisions.md).
    path = "/metrics"
    tags = ["operations"]

    @get(
        "/",
        guards=[require_scope("metrics")],
        sync_to_thread=True,
        description="Prometheus text exposition; needs a key with the 'metrics' scope.",
    )
    def metrics(self, state: State) -> Response[Any]:
        record = CollectorRegistry(auto_describe=False)
        record.register(RecordCollector(state.sessions))
        body = generate_latest(REGISTRY) + generate_latest(record)
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")
