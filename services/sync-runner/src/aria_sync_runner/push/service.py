"""Push risks out to the organization's ticketing / SIEM installations.

The rule (docs/architecture.md, "sync-runner: push"): an installation whose connector has a push
action taking risks gets a risk when its settings carry ``push_min_severity`` (info, low,
medium, high or critical; absent = push off), the risk is at least that severe and still open
or in progress. It gets the connector's ``create_ticket`` action if it has one, else
``send_event``. Risks that came from a connector with push actions (tickets synced back as
risks) are never pushed, so two ticketing tools cannot feed each other.

Exactly once per (installation, entity, action), recorded in push_deliveries: a redelivered
risk finds the delivered row and is skipped. A row left pending by a crash is attempted again,
which is safe because create_ticket actions look the ticket up before creating it (the SDK's
lookup strategy). A push whose outcome is unknown (the request may have reached a vendor that
cannot de-duplicate) is never re-sent: it is recorded as 'unknown' and dead-lettered for a
person to check. Other failures are recorded and dead-lettered; the next observation of the
risk tries again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import asyncpg
import httpx
import structlog

from aria_connectors import PushRequest, registry
from aria_connectors.errors import ConnectorError
from aria_contracts.events import DeadLetter, Provenance, Risk, Ticket
from aria_contracts.ids import entity_id
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced

from ..connectors import RunError, lease_secrets, open_instance
from ..schedules import repo as schedules_repo
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "sync-runner"
SETTING = "push_min_severity"
SEVERITIES = ("info", "low", "medium", "high", "critical")
PUSHABLE_STATUSES = ("open", "in_progress")


def _plugin(key: str):
    try:
        return registry.get(key)
    except registry.UnknownConnector:
        return None


def choose_action(plugin, settings: dict[str, Any], risk: Risk) -> str | None:
    """The push action this installation takes for this risk, or None (see the module docstring)."""
    minimum = settings.get(SETTING)
    if minimum not in SEVERITIES or risk.status not in PUSHABLE_STATUSES:
        return None
    if SEVERITIES.index(risk.severity) < SEVERITIES.index(minimum):
        return None
    for kind in ("create_ticket", "send_event"):
        for action in plugin.manifest.push:
            if action.kind == kind and action.input == "risk":
                return action.name
    return None


async def push_risk(*, pool: asyncpg.Pool, outbound: httpx.AsyncClient, vault_gateway: InternalClient,
                    risk: Risk) -> list[str]:
    """Push one risk to every installation of its organization that wants it; returns the outcomes."""
    source = _plugin(risk.provenance.integration_key)
    if source is not None and source.manifest.push:
        return []
    outcomes = []
    for target in await schedules_repo.push_targets(pool, risk.org_id):
        plugin = _plugin(target["integration_key"])
        action = choose_action(plugin, target["settings"], risk) if plugin is not None else None
        if action is not None:
            outcomes.append(await _deliver(pool=pool, outbound=outbound, vault_gateway=vault_gateway, plugin=plugin,
                                           target=target, action=action, risk=risk))
    return outcomes


async def _deliver(*, pool: asyncpg.Pool, outbound: httpx.AsyncClient, vault_gateway: InternalClient, plugin,
                   target: asyncpg.Record, action: str, risk: Risk) -> str:
    key = dict(installation_id=target["installation_id"], entity_id=risk.entity_id, action=action)
    async with pool.acquire() as conn:
        if not await repo.begin(conn, **key, org_id=risk.org_id):
            return "skipped"
    bound = log.bind(installation_id=str(target["installation_id"]), entity_id=str(risk.entity_id), action=action)
    try:
        secrets = await lease_secrets(vault_gateway, credential_ref=target["credential_ref"],
                                      installation_id=target["installation_id"])
        instance = open_instance(plugin, org_id=risk.org_id, installation_id=target["installation_id"],
                                 integration_key=target["integration_key"], settings=target["settings"],
                                 secrets=secrets, http=outbound)
        secrets = {}
        try:
            result = await instance.push(action, PushRequest(event=risk))
        finally:
            await instance.close()
    except (RunError, ConnectorError) as exc:
        unknown = bool(getattr(exc, "outcome_unknown", False))
        status = "unknown" if unknown else "failed"
        reason = (f"{exc.message} (the vendor may have applied it; not re-sent)" if unknown else exc.message)
        bound.warning("push failed", status=status, error_class=exc.error_class, error=exc.message)
        async with pool.acquire() as conn, conn.transaction():
            await repo.undelivered(conn, **key, status=status, error_class=exc.error_class, error_message=reason)
            await enqueue(conn, _wrap(DeadLetter(
                installation_id=target["installation_id"], org_id=risk.org_id,
                integration_key=target["integration_key"], origin=f"push:{action}", external_id=str(risk.entity_id),
                reason=f"{exc.error_class}: {reason}", raw_sha256=risk.provenance.raw_sha256,
                failed_at=datetime.now(timezone.utc)), target))
        return status
    spec = next(a for a in plugin.manifest.push if a.name == action)
    async with pool.acquire() as conn, conn.transaction():
        await repo.delivered(conn, **key, vendor_id=result.vendor_id, vendor_url=result.details.get("url"))
        if spec.kind == "create_ticket":
            await enqueue(conn, _wrap(ticket_for(plugin, target, action, risk, result), target))
    bound.info("pushed", status=result.status, vendor_id=result.vendor_id)
    return result.status


def ticket_for(plugin, target, action: str, risk: Risk, result) -> Ticket:
    """The ticket a create_ticket push made (or found: status duplicate), linked to its risk.
    ``target``: the ticketing installation (installation_id, integration_key)."""
    raw = {"vendor_id": result.vendor_id, "linked_entity_id": str(risk.entity_id), "action": action}
    return Ticket(
        entity_id=entity_id(org_id=risk.org_id, integration_key=target["integration_key"], entity_type="ticket",
                            external_id=result.vendor_id),
        org_id=risk.org_id,
        provenance=Provenance(installation_id=target["installation_id"], integration_key=target["integration_key"],
                              connector_version=plugin.manifest.version, stream=f"push:{action}",
                              external_id=result.vendor_id,
                              raw_sha256=hashlib.sha256(json.dumps(raw, sort_keys=True,
                                                                   separators=(",", ":")).encode()).hexdigest()),
        vendor_ticket_id=result.vendor_id, title=risk.title, status="open", url=result.details.get("url"),
        linked_entity_id=risk.entity_id, created_at=datetime.now(timezone.utc))


def _wrap(payload, target: asyncpg.Record):
    return traced(payload, source=SOURCE, org_id=target["org_id"], installation_id=target["installation_id"])
