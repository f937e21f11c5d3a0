"""Kafka plumbing: the broker every service uses, and how an envelope goes on the wire."""

from __future__ import annotations

import asyncio
import collections
import logging

import orjson
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry import propagate, trace
from prometheus_client import REGISTRY, Counter

from aria_contracts import Envelope
from aria_contracts.events import EVENT_MODELS

_TOPIC_BY_TYPE = {m.event_type: m.topic for m in EVENT_MODELS}
BATCH_PUBLISHED = Counter("aria_kafka_batch_published_total",
                          "Events published by publish_batch (acknowledged), by topic", ["topic"])
_tracer = trace.get_tracer(__name__)


def create_broker(bootstrap: str, *, client_id: str, graceful_timeout_s: float = 10.0) -> KafkaBroker:
    """acks=all + idempotence: a publish returns only once the event is durably in Kafka."""
    return KafkaBroker(
        bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        middlewares=[
            KafkaTelemetryMiddleware(tracer_provider=trace.get_tracer_provider()),
            # Received / processed / in-progress / duration per topic and handler, and publishes:
            # with the broker's offsets these are what consumer-lag dashboards are built from.
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=f"aria-{client_id.removeprefix('aria-')}",
                                      metrics_prefix="aria_kafka"),
        ],
        apply_types=True,
        # On shutdown, handlers in flight get this long to finish before the consumer stops.
        graceful_timeout=graceful_timeout_s,
        # Through the root logger, so broker logs are JSON with trace ids like everything else.
        logger=logging.getLogger("aria.kafka"),
    )


def topic_for(envelope: Envelope) -> str:
    return _TOPIC_BY_TYPE[envelope.type]


def current_trace_headers() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def encode(envelope: Envelope) -> bytes:
    return orjson.dumps(envelope.model_dump(mode="json"))


def headers_for(envelope: Envelope) -> dict[str, str]:
    headers = {"event_type": envelope.type, "event_id": str(envelope.event_id), "content-type": "application/json"}
    if envelope.traceparent:
        headers["traceparent"] = envelope.traceparent
    if envelope.tracestate:
        headers["tracestate"] = envelope.tracestate
    return headers


async def publish(broker: KafkaBroker, envelope: Envelope) -> None:
    """Publish one envelope and wait for the broker's acknowledgement."""
    await broker.publish(
        encode(envelope), topic=topic_for(envelope), key=envelope.key.encode(), headers=headers_for(envelope)
    )


def _producer(broker: KafkaBroker) -> AIOKafkaProducer:
    # FastStream has no public handle on its started aiokafka producer; this path is pinned by
    # uv.lock and exercised by every test that publishes a batch.
    return broker.config.producer._producer.producer


async def publish_batch(broker: KafkaBroker, envelopes: list[Envelope]) -> None:
    """Publish many envelopes and return once every one is acknowledged (acks=all).

    They go straight to the broker's aiokafka producer, all appended before any acknowledgement is
    awaited, so they travel in as few produce requests as their partitions allow. FastStream's
    `publish` would run its telemetry and metrics middlewares per message (a span each), which
    cost more CPU than the send itself; here the batch has one span and one count per topic. Each
    message keeps its key (partitioning, compaction) and headers, with the envelope's trace
    context and event id as correlation id. On failure, the first error is raised once every send
    has settled; some events may already be in Kafka (callers rely on their dedup keys).
    """
    if not envelopes:
        return
    producer = _producer(broker)
    with _tracer.start_as_current_span(f"publish {len(envelopes)} events", kind=trace.SpanKind.PRODUCER):
        sent: list[asyncio.Future] = []
        try:
            for envelope in envelopes:
                headers = {**headers_for(envelope), "correlation_id": str(envelope.event_id)}
                sent.append(await producer.send(topic_for(envelope), encode(envelope), key=envelope.key.encode(),
                                                headers=[(k, v.encode()) for k, v in headers.items()]))
        except BaseException:
            for future in sent:  # they settle without us: mark their outcome as seen
                future.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise
        results = await asyncio.gather(*sent, return_exceptions=True)
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        raise failed
    for topic, count in collections.Counter(topic_for(e) for e in envelopes).items():
        BATCH_PUBLISHED.labels(topic).inc(count)
