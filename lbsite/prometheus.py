"""LB Lab's own metrics, in Prometheus' format (`GET /metrics`, prometheus-client): what this web
process measures itself, held in one registry the apps add their collectors to.

- `lblab_http_request_duration_seconds{view, method, status}`: how long LB Lab's own pages and API
  took (the `RequestLatency` middleware; `view` is the URL pattern's name, never the raw path, so
  a run id cannot grow the series without bound);
- `lblab_websocket_clients`: live-run viewers connected to this process now.

tests_app's collector adds what the database knows (runs by status, run durations, samples
written, the task queue's depth), read at scrape time so every web replica reports the same.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_LATENCY = Histogram(
    "lblab_http_request_duration_seconds", "Time LB Lab took to answer its own pages and API.",
    ["view", "method", "status"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
WEBSOCKET_CLIENTS = Gauge("lblab_websocket_clients", "Live-run viewers connected to this process.",
                          registry=REGISTRY)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


def register_once(collector) -> None:
    """Add a collector to the registry unless one of its class is there (app reloads in tests)."""
    if not any(type(existing) is type(collector) for existing in list(REGISTRY._collector_to_names)):
        REGISTRY.register(collector)


class RequestLatency:
    """Middleware: every request's duration, by the view that answered it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match is not None else "") or "unmatched"
        HTTP_LATENCY.labels(view=view, method=request.method, status=f"{response.status_code // 100}xx").observe(
            time.perf_counter() - started)
        return response
