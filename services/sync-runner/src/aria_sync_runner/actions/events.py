"""Kafka adapters: run requested actions; keep the entities they may name and follow ticket status."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import ActionRequested, ActionRequestEvents, Alert, AlertEvents, Risk, RiskEvents
from aria_contracts.topics import ACTION_REQUESTS, ALERTS, RISKS
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..deps import SyncRunnerDeps
from . import service


def build_router(*, group_id: str, entities_group_id: str) -> KafkaRouter:
    router = KafkaRouter()

    @subscriber(router, ACTION_REQUESTS, group_id=group_id,
                description="Run each on-demand push action once and report action.completed")
    async def on_action(envelope: ActionRequestEvents, runtime: RuntimeContext) -> None:
        if envelope.type != ActionRequested.event_type:
            return
        deps = runtime.deps_of(SyncRunnerDeps)
        await service.run_action(pool=runtime.pool, outbound=deps.outbound, vault_gateway=deps.vault_gateway,
                                 request=envelope.payload(ActionRequested))

    # From the earliest offset on a new group: the compacted topics hold every entity's newest state.
    @subscriber(router, RISKS, group_id=entities_group_id,
                description="Newest risk per entity (actions by entity id); ticket status back to its risk")
    async def on_risk(envelope: RiskEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Risk.event_type:
            await service.observe(pool=runtime.pool, entity=envelope.payload(Risk))

    @subscriber(router, ALERTS, group_id=entities_group_id, description="Newest alert per entity (actions by entity id)")
    async def on_alert(envelope: AlertEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Alert.event_type:
            await service.observe(pool=runtime.pool, entity=envelope.payload(Alert))

    return router
