"""Kafka adapter: keep the newest version of every automation rule (aria.automation.rules)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import RuleChanged, RuleEvents
from aria_contracts.topics import AUTOMATION_RULES
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from . import service


def build_router(*, group_id: str) -> KafkaRouter:
    router = KafkaRouter()

    # From the earliest offset on a new group: the compacted topic holds every rule's newest version.
    @subscriber(router, AUTOMATION_RULES, group_id=group_id,
                description="Automation rules to evaluate on entity events (newest version per rule)")
    async def on_rule(envelope: RuleEvents, runtime: RuntimeContext) -> None:
        if envelope.type == RuleChanged.event_type:
            await service.store(pool=runtime.pool, changed=envelope.payload(RuleChanged))

    return router
