"""Kafka adapter: risks on aria.entity.risk are pushed out (push.service.push_risk)."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import Risk, RiskEvents
from aria_contracts.topics import RISKS
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..deps import SyncRunnerDeps
from . import service


def build_router(*, group_id: str) -> KafkaRouter:
    router = KafkaRouter()

    @subscriber(router, RISKS, group_id=group_id, offset_reset="latest",
                description="Push risks to the organization's ticketing / SIEM installations")
    async def on_risk(envelope: RiskEvents, runtime: RuntimeContext) -> None:
        if envelope.type != Risk.event_type:
            return
        deps = runtime.deps_of(SyncRunnerDeps)
        await service.push_risk(pool=runtime.pool, outbound=deps.outbound, vault_gateway=deps.vault_gateway,
                                risk=envelope.payload(Risk))

    return router
