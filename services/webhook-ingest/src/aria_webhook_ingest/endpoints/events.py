"""Kafka adapter: the installation lifecycle decides which webhook endpoints are live."""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter

from aria_contracts import Envelope
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.metrics import EVENTS_CONSUMED
from aria_platform.runtime import Runtime

from . import service


def build_router(*, group_id: str) -> KafkaRouter:
    """The group id comes from settings so isolated test runs can use their own group."""
    router = KafkaRouter()

    @router.subscriber(INSTALLATION_LIFECYCLE.name, group_id=group_id, auto_offset_reset="earliest",
                       ack_policy="nack_on_error",
                       description="Mark webhook endpoints live / not live from installation lifecycle events")
    async def on_installation_event(envelope: Envelope, runtime: Runtime = Context("runtime")) -> None:
        outcome = await service.apply_lifecycle_event(pool=runtime.pool, envelope=envelope,
                                                      cache=runtime.extras["endpoints"])
        EVENTS_CONSUMED.labels("webhook-ingest", envelope.type, outcome).inc()

    return router
