"""Kafka adapter: action.completed (from sync-runner) records a run's outcome."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import ActionCompleted, ActionRunEvents
from aria_contracts.topics import ACTION_RUNS
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext
from aria_platform.settings import ServiceSettings

from . import service


def build_router(settings: ServiceSettings) -> KafkaRouter:
    router = KafkaRouter()

    @subscriber(router, ACTION_RUNS, group_id=settings.group("installer.action-outcomes"),
                description="Outcome of each action run (status, vendor id, error class)")
    async def on_action_run(envelope: ActionRunEvents, runtime: RuntimeContext) -> None:
        if envelope.type == ActionCompleted.event_type:
            await service.record_outcome(pool=runtime.pool, completed=envelope.payload(ActionCompleted))

    return router
