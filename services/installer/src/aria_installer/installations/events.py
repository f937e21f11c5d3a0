"""Kafka adapters: sync outcomes and health keep the installation's status current."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import IntegrationHealthEvents, SyncJobEvents
from aria_contracts.topics import INTEGRATION_HEALTH, SYNC_JOBS
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext
from aria_platform.settings import ServiceSettings

from . import outcomes


def build_router(settings: ServiceSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @subscriber(router, SYNC_JOBS, group_id=settings.group("installer.sync-outcomes"),
                description="Last sync, error count and last error per installation")
    async def on_sync_job(envelope: SyncJobEvents, runtime: RuntimeContext) -> None:
        await outcomes.record_sync_event(pool=runtime.pool, envelope=envelope)

    @subscriber(router, INTEGRATION_HEALTH, group_id=settings.group("installer.health"),
                description="Health status per installation")
    async def on_health(envelope: IntegrationHealthEvents, runtime: RuntimeContext) -> None:
        await outcomes.record_health_event(pool=runtime.pool, envelope=envelope)

    return router
