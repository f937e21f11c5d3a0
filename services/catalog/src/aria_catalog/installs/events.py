"""Kafka adapter: installation lifecycle events keep install counts, the per-org ledger and setup times."""

from __future__ import annotations

import structlog
from faststream.kafka import KafkaRouter

from aria_contracts.events import InstallationEnabled, InstallationInstalled, InstallationLifecycleEvents, InstallationUninstalled
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext
from aria_platform.settings import ServiceSettings

from . import service

log = structlog.get_logger(__name__)
_STATE = {InstallationInstalled.event_type: (InstallationInstalled, True),
          InstallationUninstalled.event_type: (InstallationUninstalled, False)}
_MILESTONES = {InstallationInstalled.event_type: (InstallationInstalled, "installed"),
               InstallationEnabled.event_type: (InstallationEnabled, "enabled")}


def build_router(settings: ServiceSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @subscriber(router, INSTALLATION_LIFECYCLE, group_id=settings.group("catalog.install-counts"),
                description="Install counts, installed-in-org ledger and setup times")
    async def on_installation_event(envelope: InstallationLifecycleEvents, runtime: RuntimeContext) -> None:
        if envelope.type == InstallationInstalled.event_type and envelope.payload(InstallationInstalled).demo:
            return  # a Try-demo sandbox is no install: not counted, not in the org's ledger
        if envelope.type in _MILESTONES:
            model, milestone = _MILESTONES[envelope.type]
            event = envelope.payload(model)
            # The envelope's time is when it happened; arrival order and time say nothing.
            await service.record_setup_milestone(pool=runtime.pool, installation_id=event.installation_id,
                                                 integration_key=event.integration_key, milestone=milestone,
                                                 at=envelope.time)
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
