"""Kafka adapter: installation lifecycle events keep install counts and the per-org ledger."""

from __future__ import annotations

import structlog
from faststream import Context
from faststream.kafka import KafkaRouter

from aria_contracts import Envelope
from aria_contracts.events import InstallationInstalled, InstallationUninstalled
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.runtime import Runtime
from aria_platform.settings import ServiceSettings

from . import service

log = structlog.get_logger(__name__)
_STATE = {InstallationInstalled.event_type: (InstallationInstalled, True),
          InstallationUninstalled.event_type: (InstallationUninstalled, False)}


def build_router(settings: ServiceSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @router.subscriber(INSTALLATION_LIFECYCLE.name, group_id=settings.group("catalog.install-counts"),
                       auto_offset_reset="earliest",
                       ack_policy="nack_on_error", description="Install counts and installed-in-org ledger")
    async def on_installation_event(envelope: Envelope, runtime: Runtime = Context("runtime")) -> None:
        if envelope.type not in _STATE:
            return
        model, installed = _STATE[envelope.type]
        event = envelope.payload(model)
        outcome = await service.record_installation_state(
            pool=runtime.pool, installation_id=event.installation_id, org_id=event.org_id,
            integration_key=event.integration_key, installed=installed, revision=event.revision)
        log.debug("installation event applied", type=envelope.type, installation_id=str(event.installation_id),
                  outcome=outcome)

    return router
