"""Kafka plumbing: the broker every service uses, and how an envelope goes on the wire."""

from __future__ import annotations

import asyncio
import logging

import orjson
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry import propagate, trace
from prometheus_client import REGISTRY

from aria_contracts import Envelope
from aria_contracts.events import EVENT_MODELS

_TOPIC_BY_TYPE = {m.event_type: m.topic for m in EVENT_MODELS}


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


async def publish_batch(broker: KafkaBroker, envelopes: list[Envelope]) -> None:
    """Publish many envelopes concurrently (pipelined) and wait for every acknowledgement."""
    await asyncio.gather(*(publish(broker, e) for e in envelopes))
