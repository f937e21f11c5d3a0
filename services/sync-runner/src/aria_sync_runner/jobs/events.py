"""Kafka adapter: a sync request becomes a queued job (service.accept_request) that a replica's worker runs."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import SyncRequestEvents, SyncRequested
from aria_contracts.topics import SYNC_REQUESTS
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext

from ..deps import SyncRunnerDeps
from . import service


def build_router(*, group_id: str) -> KafkaRouter:
    """The subscriber of sync requests (the group is a setting so test runs get their own)."""
    router = KafkaRouter()

    @subscriber(router, SYNC_REQUESTS, group_id=group_id, description="Queue the sync job a request asks for")
    async def on_sync_requested(envelope: SyncRequestEvents, runtime: RuntimeContext) -> None:
        if envelope.type != SyncRequested.event_type:
            return
        event = envelope.payload(SyncRequested)
        await service.accept_request(
            pool=runtime.pool, max_retries=runtime.settings.sync_max_retries, request_id=event.request_id,
            org_id=event.org_id, installation_id=event.installation_id, integration_key=event.integration_key,
            sync_type=event.sync_type, requested_by=event.requested_by, settings=event.settings,
            credential_ref=event.credential_ref, config_version=event.config_version,
            requested_at=envelope.time, max_age_s=runtime.settings.sync_request_max_age_s, mappings=event.mappings)
        runtime.deps_of(SyncRunnerDeps).worker.wake()

    return router
