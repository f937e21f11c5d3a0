"""Kafka adapters: run requested actions; keep the entities they may name, follow ticket status, and
evaluate automation rules on every entity change."""

from __future__ import annotations

from typing import Literal

from faststream.kafka import KafkaRouter

from aria_contracts import Envelope
from aria_contracts.events import (
    ActionRequested,
    ActionRequestEvents,
    Alert,
    AlertEvents,
    Asset,
    AssetEvents,
    DomainEntity,
    Indicator,
    IndicatorEvents,
    Risk,
    RiskEvents,
    Vulnerability,
    VulnerabilityEvents,
)
from aria_contracts.topics import ACTION_REQUESTS, ALERTS, ASSETS, INDICATORS, RISKS, VULNERABILITIES
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..deps import SyncRunnerDeps
from ..rules import service as rules
from . import service


def build_router(*, group_id: str, entities_group_id: str,
                 entities_offset_reset: Literal["earliest", "latest"] = "earliest") -> KafkaRouter:
    router = KafkaRouter()

    @subscriber(router, ACTION_REQUESTS, group_id=group_id,
                description="Run each push action (on demand or from a rule) once and report action.completed")
    async def on_action(envelope: ActionRequestEvents, runtime: RuntimeContext) -> None:
        if envelope.type != ActionRequested.event_type:
            return
        deps = runtime.deps_of(SyncRunnerDeps)
        await service.run_action(pool=runtime.pool, outbound=deps.outbound, vault_gateway=deps.vault_gateway,
                                 request=envelope.payload(ActionRequested), budgets=deps.budgets,
                                 retries=deps.rule_retries)

    async def on_entity(envelope: Envelope, entity: DomainEntity, runtime: RuntimeContext) -> None:
        # Remembered first: a rule's run names the entity by id and finds it kept.
        await service.observe(pool=runtime.pool, entity=entity)
        await rules.evaluate(pool=runtime.pool, entity=entity, published_at=envelope.time)

    # From the earliest offset on a new group (by default): the compacted topics hold every entity's
    # newest state (rules act only on changes published after they were saved, see rules.service).
    # One group per topic: consumers of different topics in one group rebalance each other on every join, and each
    # rebalance stops all of them.
    def entity_subscriber(topic, model: type[DomainEntity], events: object, description: str) -> None:
        async def on_change(envelope: Envelope, runtime: RuntimeContext) -> None:
            if envelope.type == model.event_type:
                await on_entity(envelope, envelope.payload(model), runtime)

        # The topic's typed envelope, so the AsyncAPI document shows each topic's own payload.
        on_change.__annotations__ = {**on_change.__annotations__, "envelope": events}
        on_change.__name__ = on_change.__qualname__ = f"on_{model.entity_type}"
        subscriber(router, topic, group_id=f"{entities_group_id}.{model.entity_type}",
                   offset_reset=entities_offset_reset, description=description)(on_change)

    entity_subscriber(RISKS, Risk, RiskEvents,
                      "Newest risk per entity (actions by entity id, rules); ticket status back to its risk")
    entity_subscriber(ALERTS, Alert, AlertEvents, "Newest alert per entity (actions, rules)")
    entity_subscriber(VULNERABILITIES, Vulnerability, VulnerabilityEvents,
                      "Newest vulnerability per entity (rules, dry-runs)")
    entity_subscriber(ASSETS, Asset, AssetEvents, "Newest asset per entity (rules, dry-runs)")
    entity_subscriber(INDICATORS, Indicator, IndicatorEvents, "Newest indicator per entity (rules, dry-runs)")

    return router
