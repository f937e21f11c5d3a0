"""Kafka adapter: a sync request becomes a sync job (service.run_sync)."""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter

from aria_contracts import Envelope
from aria_contracts.events import SyncRequested
from aria_contracts.topics import SYNC_REQUESTS
from aria_platform.runtime import Runtime

from ..connectors import ensure_wired
from . import service

# A sync runs inside the handler; allow long syncs before the group considers us stuck.
MAX_POLL_INTERVAL_MS = 30 * 60 * 1000


def build_router(*, group_id: str) -> KafkaRouter:
    """The subscriber of sync requests (the group is a setting so test runs get their own)."""
    router = KafkaRouter()

    @router.subscriber(SYNC_REQUESTS.name, group_id=group_id, auto_offset_reset="earliest",
                       ack_policy="nack_on_error", max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
                       description="Run the sync job a request asks for")
    async def on_sync_requested(envelope: Envelope, runtime: Runtime = Context("runtime")) -> None:
        if envelope.type != SyncRequested.event_type:
            return
        event = envelope.payload(SyncRequested)
        ensure_wired(runtime)
        s = runtime.settings
        await service.run_sync(
            pool=runtime.pool, broker=runtime.broker, outbound=runtime.extras["outbound"],
            vault_gateway=runtime.extras["vault_gateway"], active_jobs=runtime.extras["active_jobs"],
            max_retries=s.sync_max_retries, retry_backoff_s=s.sync_retry_backoff_s,
            request_id=event.request_id, org_id=event.org_id, installation_id=event.installation_id,
            integration_key=event.integration_key, sync_type=event.sync_type, requested_by=event.requested_by,
            settings=event.settings, credential_ref=event.credential_ref, config_version=event.config_version)

    return router
