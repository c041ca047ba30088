"""What the service counts about itself, exposed at /metrics (directory/metrics.py). Kept apart
so any module can count without importing the HTTP layer."""

from prometheus_client import Counter

__all__ = ["LOGIN_FAILURES", "RATE_LIMITED", "SEARCHES"]

SEARCHES = Counter("atelier_searches_total", "Searches answered, by backend", ["backend"])
RATE_LIMITED = Counter("atelier_rate_limited_total", "Requests refused with 429")
LOGIN_FAILURES = Counter("atelier_login_failures_total", "Refused log-in attempts")
