"""Prometheus metrics shared by every service (each service adds its business counters)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("aria_http_requests_total", "HTTP requests", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "aria_http_request_duration_seconds", "HTTP request latency", ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_CONSUMED = Counter("aria_events_consumed_total", "Kafka events handled", ["service", "event_type", "outcome"])
OUTBOX_PUBLISHED = Counter("aria_outbox_published_total", "Events relayed from the outbox to Kafka")
OUTBOX_BACKLOG = Histogram("aria_outbox_backlog", "Outbox rows waiting when checked", buckets=(0, 1, 10, 100, 1000, 10000))
