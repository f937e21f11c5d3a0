"""OpenTelemetry tracing: one provider per process, OTLP export when an endpoint is configured.

Spans: one server span per HTTP request (not its ASGI send/receive steps), outgoing httpx calls,
and the Kafka publish/consume spans FastStream makes, so a trace links HTTP → Kafka → consumer.
No span per SQL statement: on read paths they cost more than the query (measured on the catalog),
and the request span already covers the time. Without an exporter nothing is recorded, but trace
ids are still made and propagated (logs, envelopes' traceparent).
"""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF


_configured: TracerProvider | None = None


def configure_tracing(service: str) -> TracerProvider:
    """Once per process (tests run several services in one process: the first one names it)."""
    global _configured
    if _configured is not None:
        return _configured
    resource = Resource.create({"service.name": f"aria-{service}"})
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        # Sampler from OTEL_TRACES_SAMPLER / _ARG (default: parent-based, always on).
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        # Nowhere to send spans: non-recording spans still carry (and propagate) trace context.
        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    _configured = provider
    return provider


def instrument_app(app) -> None:
    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"])


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
