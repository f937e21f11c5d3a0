"""Kafka adapter: every native entity event is fanned out to the organization's subscribed endpoints."""

# No `from __future__ import annotations`: each handler's envelope type is a local variable, which
# FastStream must see as an object, not a string it cannot resolve.
from faststream.kafka import KafkaRouter

from aria_contracts import topics
from aria_contracts.events import AlertEvents, AssetEvents, IndicatorEvents, RiskEvents, TicketEvents, VulnerabilityEvents
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..deps import WebhookIngestDeps
from . import service

# One subscriber per entity topic, each typed by its topic (aria_contracts.events).
_TOPICS = ((topics.RISKS, RiskEvents), (topics.ALERTS, AlertEvents), (topics.VULNERABILITIES, VulnerabilityEvents),
           (topics.ASSETS, AssetEvents), (topics.INDICATORS, IndicatorEvents), (topics.TICKETS, TicketEvents))


def build_router(*, group_id: str) -> KafkaRouter:
    """A new router per app. The group starts at the latest offset: an endpoint gets the events
    published after it was created, not the compacted history of every entity."""
    router = KafkaRouter()
    for topic, events in _TOPICS:
        _subscribe(router, topic, events, group_id)
    return router


def _subscribe(router: KafkaRouter, topic: topics.Topic, events, group_id: str) -> None:
    @subscriber(router, topic, group_id=group_id, offset_reset="latest",
                description=f"Queue outbound webhook deliveries of {topic.name} events for subscribed endpoints")
    async def fan_out(envelope: events, runtime: RuntimeContext) -> None:  # type: ignore[valid-type]
        deps = runtime.deps_of(WebhookIngestDeps)
        if await service.fan_out(pool=runtime.pool, subscriptions=deps.subscriptions, envelope=envelope):
            deps.sender.wake()

