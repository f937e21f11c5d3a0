"""Kafka adapter: installation lifecycle events keep the schedules (schedules.service.apply_lifecycle)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import InstallationLifecycleEvents, model_for
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from . import service


def build_router(*, group_id: str) -> KafkaRouter:
    router = KafkaRouter()

    @subscriber(router, INSTALLATION_LIFECYCLE, group_id=group_id, description="Keep each installation's sync schedule")
    async def on_lifecycle(envelope: InstallationLifecycleEvents, runtime: RuntimeContext) -> None:
        try:
            model = model_for(envelope.type)
        except KeyError:
            return  # a lifecycle event newer than this build: nothing to schedule from it
        await service.apply_lifecycle(pool=runtime.pool, event=envelope.payload(model))

    return router
