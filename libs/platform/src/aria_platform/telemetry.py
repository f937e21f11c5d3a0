"""OpenTelemetry tracing: one provider per process, OTLP export when an endpoint is configured.

Spans: one server span per HTTP request (not its ASGI send/receive steps), outgoing httpx calls,
and the Kafka publish/consume spans FastStream makes, so a trace links HTTP → Kafka → consumer.
No span per SQL statement: on read paths they cost more than the query (measured on the catalog),
and the request span already covers the time.

Without an exporter nothing is recorded, but trace ids are still made and propagated (logs,
envelopes' traceparent): `TraceContext` runs each request in the caller's W3C trace context (or a
new trace) under a non-recording span, and nothing else. The full instrumentation (FastAPI's
OpenTelemetry middleware: semantic-convention attributes, route lookup, its own metrics) costs
more CPU per request than the rest of the platform's stack together (~130 µs against ~60 µs in
process), and all of that work is thrown away when no span is recorded; it runs only when spans
are exported. FastAPI's own native telemetry is turned off (`FASTAPI_TELEMETRY`) for the same
reason: one request span per request, from one of the two above.
"""

from __future__ import annotations

import os

from opentelemetry import context, propagate, trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

FASTAPI_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}
_EXCLUDED = "healthz,readyz,metrics"
_TRACE_HEADERS = (b"traceparent", b"tracestate")

_configured: TracerProvider | None = None
_exporting = False
_tracer = trace.get_tracer(__name__)


def configure_tracing(service: str) -> TracerProvider:
    """Once per process (tests run several services in one process: the first one names it)."""
    global _configured, _exporting
    if _configured is not None:
        return _configured
    resource = Resource.create({"service.name": f"aria-{service}"})
    _exporting = bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    if _exporting:
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
    if _exporting:
        FastAPIInstrumentor.instrument_app(app, excluded_urls=_EXCLUDED, exclude_spans=["receive", "send"])
    else:
        app.add_middleware(TraceContext)


class TraceContext:
    """Plain ASGI middleware for when no span is exported: the request runs in the trace of its
    `traceparent` / `tracestate` headers (a new trace without them) under a non-recording server
    span, so logs and published envelopes carry the caller's trace."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        carrier = {name.decode(): value.decode("latin-1") for name, value in scope["headers"]
                   if name in _TRACE_HEADERS}
        parent = propagate.extract(carrier) if carrier else None
        # A direct route (aria_platform.direct) is known before this runs; FastAPI's routes only later.
        route = getattr(scope.get("route"), "path", None)
        span = _tracer.start_span(f"{scope['method']} {route}" if route else scope["method"], context=parent,
                                  kind=trace.SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))
        if span.is_recording():  # spans are exported (direct routes): what the instrumentation would record
            span.set_attributes({"http.request.method": scope["method"], "url.path": scope["path"],
                                 **({"http.route": route} if route else {})})
            send = _recording_status(span, send)
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)
            span.end()


def _recording_status(span, send):
    async def send_and_record(message):
        if message["type"] == "http.response.start":
            span.set_attribute("http.response.status_code", message["status"])
            if message["status"] >= 500:
                span.set_status(trace.StatusCode.ERROR)
        await send(message)
    return send_and_record


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
