"""Kafka adapters: sync outcomes and health keep the installation's status current."""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter

from aria_contracts import Envelope
from aria_contracts.topics import INTEGRATION_HEALTH, SYNC_JOBS
from aria_platform.runtime import Runtime
from aria_platform.settings import ServiceSettings

from . import outcomes


def build_router(settings: ServiceSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @router.subscriber(SYNC_JOBS.name, group_id=settings.group("installer.sync-outcomes"),
                       auto_offset_reset="earliest",
                       ack_policy="nack_on_error", description="Last sync, error count and last error per installation")
    async def on_sync_job(envelope: Envelope, runtime: Runtime = Context("runtime")) -> None:
        await outcomes.record_sync_event(pool=runtime.pool, envelope=envelope)

    @router.subscriber(INTEGRATION_HEALTH.name, group_id=settings.group("installer.health"),
                       auto_offset_reset="earliest",
                       ack_policy="nack_on_error", description="Health status per installation")
    async def on_health(envelope: Envelope, runtime: Runtime = Context("runtime")) -> None:
        await outcomes.record_health_event(pool=runtime.pool, envelope=envelope)

    return router
