"""Kafka adapter: finished sync runs feed the daily usage rollups."""

from __future__ import annotations

import structlog
from faststream.kafka import KafkaRouter

from aria_contracts.events import SyncJobEvents
from aria_contracts.topics import SYNC_JOBS
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..settings import CatalogSettings
from . import service

log = structlog.get_logger(__name__)


def build_router(settings: CatalogSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @subscriber(router, SYNC_JOBS, group_id=settings.group("catalog.usage-analytics"),
                description="Daily usage rollups per installation from sync.completed / sync.failed")
    async def on_sync_job(envelope: SyncJobEvents, runtime: RuntimeContext) -> None:
        outcome = await service.record_sync_event(pool=runtime.pool, envelope=envelope,
                                                  cost_per_1000_records=settings.usage_cost_per_1000_records)
        log.debug("sync event applied to usage", type=envelope.type, outcome=outcome)

    return router
