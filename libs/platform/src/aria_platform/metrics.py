"""Prometheus metrics shared by every service (each service adds its business counters)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("aria_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "aria_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_CONSUMED = Counter("aria_events_consumed_total", "Kafka events handled", ["service", "event_type", "outcome"])
EVENTS_PUBLISHED = Counter("aria_events_published_total", "Events published in bulk (sync pages, webhook group commits)", ["topic"])
OUTBOX_PUBLISHED = Counter("aria_outbox_published_total", "Events relayed from the outbox to Kafka")


class RequestMetrics:
    """Plain ASGI middleware: request count and latency per route template.

    (Starlette's BaseHTTPMiddleware runs every request through an extra task and stream,
    which cost more than the request itself on the catalog's hot paths.)
    """

    def __init__(self, app, service: str):
        self.app, self.service = app, service
        # (method, route, status) -> its counter and histogram children: `labels()` takes a lock and
        # builds the label tuple on every call. One entry per label set the metrics themselves keep.
        self._children: dict[tuple[str, str, int], tuple] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), 500

        async def record_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # The router writes the matched route into the shared scope.
            key = (scope["method"], getattr(scope.get("route"), "path", "unmatched"), status)
            children = self._children.get(key)
            if children is None:
                method, route, _ = key
                children = self._children[key] = (HTTP_REQUESTS.labels(self.service, method, route, str(status)),
                                                  HTTP_LATENCY.labels(self.service, method, route))
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
