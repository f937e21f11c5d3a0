"""Which installations are live for webhooks, kept from the installation lifecycle."""

from __future__ import annotations

import uuid

import asyncpg
import structlog
from pydantic import ValidationError

from aria_contracts import Envelope
from aria_contracts.events import (
    InstallationConfigured,
    InstallationDisabled,
    InstallationEnabled,
    InstallationEvent,
    InstallationInstalled,
    InstallationMappingsChanged,
    InstallationUninstalled,
)

from . import repo

log = structlog.get_logger(__name__)

# event type → (model, liveness after it (None = unchanged), carries credential refs + settings)
_EFFECTS: dict[str, tuple[type[InstallationEvent], bool | None, bool]] = {
    InstallationInstalled.event_type: (InstallationInstalled, None, False),
    InstallationConfigured.event_type: (InstallationConfigured, None, True),
    InstallationEnabled.event_type: (InstallationEnabled, True, True),
    InstallationDisabled.event_type: (InstallationDisabled, False, False),
    InstallationUninstalled.event_type: (InstallationUninstalled, False, False),
}


async def apply_lifecycle_event(*, pool: asyncpg.Pool, envelope: Envelope) -> str:
    """Apply one lifecycle event if it is newer than what we hold. Returns 'applied', 'stale',
    'ignored' (a type we do not know) or 'invalid' (payload does not match its type). Idempotent: the installation revision orders events."""
    if envelope.type == InstallationMappingsChanged.event_type:
        model, live, config = InstallationMappingsChanged, None, False
    elif envelope.type in _EFFECTS:
        model, live, config = _EFFECTS[envelope.type]
    else:
        return "ignored"
    try:
        event = envelope.payload(model)
    except ValidationError as exc:
        # Retrying cannot fix a malformed event; skipping it keeps the partition moving.
        log.error("invalid lifecycle event skipped", event_type=envelope.type, event_id=str(envelope.event_id),
                  errors=exc.error_count())
        return "invalid"
    ids = dict(installation_id=event.installation_id, org_id=event.org_id, integration_key=event.integration_key,
               revision=event.revision)
    if isinstance(event, InstallationMappingsChanged):
        applied = await repo.set_mappings(pool, **ids, mappings=event.mappings)
    else:
        applied = await repo.apply_revision(
            pool, **ids, live=live, config=config, credential_ref=getattr(event, "credential_ref", None),
            webhook_credential_ref=getattr(event, "webhook_credential_ref", None),
            settings=getattr(event, "settings", None) or {})
    log.info("installation lifecycle", event_type=envelope.type, installation_id=str(event.installation_id),
             revision=event.revision, applied=applied)
    return "applied" if applied else "stale"


async def live_endpoint(*, pool: asyncpg.Pool, installation_id: uuid.UUID) -> asyncpg.Record | None:
    row = await repo.get_endpoint(pool, installation_id)
    return row if row is not None and row["live"] else None
