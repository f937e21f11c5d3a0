"""Kafka adapter: the installation lifecycle decides which webhook endpoints are live."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import InstallationLifecycleEvents
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.metrics import EVENTS_CONSUMED
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..deps import WebhookIngestDeps
from . import service


def build_router(*, group_id: str) -> KafkaRouter:
    """The group id comes from settings so isolated test runs can use their own group."""
    router = KafkaRouter()

    @subscriber(router, INSTALLATION_LIFECYCLE, group_id=group_id,
                description="Mark webhook endpoints live / not live from installation lifecycle events")
    async def on_installation_event(envelope: InstallationLifecycleEvents, runtime: RuntimeContext) -> None:
        outcome = await service.apply_lifecycle_event(pool=runtime.pool, envelope=envelope,
                                                      cache=runtime.deps_of(WebhookIngestDeps).endpoints)
        EVENTS_CONSUMED.labels("webhook-ingest", envelope.type, outcome).inc()

    return router
