"""Kafka adapter: finished sync runs feed the daily usage rollups."""

from __future__ import annotations

import structlog
from faststream import Context
from faststream.kafka import KafkaRouter

from aria_contracts import Envelope
from aria_contracts.topics import SYNC_JOBS
from aria_platform.runtime import Runtime

from ..settings import CatalogSettings
from . import service

log = structlog.get_logger(__name__)


def build_router(settings: CatalogSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @router.subscriber(SYNC_JOBS.name, group_id=settings.group("catalog.usage-analytics"),
                       auto_offset_reset="earliest", ack_policy="nack_on_error",
                       description="Daily usage rollups per installation from sync.completed / sync.failed")
    async def on_sync_job(envelope: Envelope, runtime: Runtime = Context("runtime")) -> None:
        outcome = await service.record_sync_event(pool=runtime.pool, envelope=envelope,
                                                  cost_per_1000_records=settings.usage_cost_per_1000_records)
        log.debug("sync event applied to usage", type=envelope.type, outcome=outcome)

    return router
