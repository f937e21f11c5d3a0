"""Kafka adapter: an uninstalled installation's credentials are crypto-shredded."""

from __future__ import annotations

from faststream.kafka import KafkaRouter

from aria_contracts.events import InstallationLifecycleEvents, InstallationUninstalled
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.kafka import subscriber
from aria_platform.runtime import RuntimeContext
from aria_platform.settings import ServiceSettings

from ..deps import VaultGatewayDeps
from . import service


def build_router(settings: ServiceSettings) -> KafkaRouter:
    """A new router per app: subscribers belong to one broker, never shared between apps."""
    router = KafkaRouter()

    @subscriber(router, INSTALLATION_LIFECYCLE, group_id=settings.group("vault-gateway.shredder"),
                description="Shred credentials of uninstalled installations")
    async def on_installation_event(envelope: InstallationLifecycleEvents, runtime: RuntimeContext) -> None:
        if envelope.type != InstallationUninstalled.event_type:
            return
        event = envelope.payload(InstallationUninstalled)
        await service.shred_installation(pool=runtime.pool, vault=runtime.deps_of(VaultGatewayDeps).vault,
                                         actor="event:uninstalled", installation_id=event.installation_id,
                                         org_id=event.org_id)

    return router
