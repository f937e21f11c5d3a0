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
    # newest state (rules act only on changes published after they were saved, see rules.service). One group per
    # topic: consumers of different topics in one group rebalance each other on every join, and each
    # rebalance stops all of them.
    @subscriber(router, RISKS, group_id=f"{entities_group_id}.risk", offset_reset=entities_offset_reset,
                description="Newest risk per entity (actions by entity id, rules); ticket status back to its risk")
    async def on_risk(envelope: RiskEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Risk.event_type:
            await on_entity(envelope, envelope.payload(Risk), runtime)

    @subscriber(router, ALERTS, group_id=f"{entities_group_id}.alert", offset_reset=entities_offset_reset,
                description="Newest alert per entity (actions, rules)")
    async def on_alert(envelope: AlertEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Alert.event_type:
            await on_entity(envelope, envelope.payload(Alert), runtime)

    @subscriber(router, VULNERABILITIES, group_id=f"{entities_group_id}.vulnerability", offset_reset=entities_offset_reset,
                description="Newest vulnerability per entity (rules, dry-runs)")
    async def on_vulnerability(envelope: VulnerabilityEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Vulnerability.event_type:
            await on_entity(envelope, envelope.payload(Vulnerability), runtime)

    @subscriber(router, ASSETS, group_id=f"{entities_group_id}.asset", offset_reset=entities_offset_reset,
                description="Newest asset per entity (rules, dry-runs)")
    async def on_asset(envelope: AssetEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Asset.event_type:
            await on_entity(envelope, envelope.payload(Asset), runtime)

    @subscriber(router, INDICATORS, group_id=f"{entities_group_id}.indicator", offset_reset=entities_offset_reset,
                description="Newest indicator per entity (rules, dry-runs)")
    async def on_indicator(envelope: IndicatorEvents, runtime: RuntimeContext) -> None:
        if envelope.type == Indicator.event_type:
            await on_entity(envelope, envelope.payload(Indicator), runtime)

    return router
