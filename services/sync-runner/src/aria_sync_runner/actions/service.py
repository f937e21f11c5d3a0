"""Run on-demand push actions (action.requested) once each, and let ticket status follow back.

The installer records a run, checks roles and input, and publishes ``action.requested`` through
its outbox; this module executes it against the vendor and reports ``action.completed`` (outbox,
same transaction as the outcome). At most once per run id, recorded in action_executions like
push_deliveries: a redelivered request whose run has an outcome is skipped; a run left pending by
a crash is re-sent only when the action's idempotency strategy makes that safe (header, body,
lookup, natural), else recorded ``unknown`` and never re-sent.

Automation rules request runs the same way (``rules.service``: ``rule_execution_id`` set); the
outcome's transaction also settles the rule's execution (retry later, or dead-letter).
Every run keeps to the target installation's rate budget (``budgets.TargetBudgets``).

Entity actions name an entity the platform has seen (``entity_id``): the newest entity of each
type (risk, alert, vulnerability, asset, indicator) is kept from the entity topics
(action_entities). A ticket opened from an entity is linked
to it (ticket_links); when the ticketing connector syncs the ticket back (Jira, ServiceNow... sync
tickets as risks whose external id is the ticket's vendor id) with another status, the entity is
re-published with that status and a ``ticket.observed`` carries the ticket's.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import asyncpg
import httpx
import structlog
from pydantic import ValidationError

from aria_connectors import PushRequest
from aria_connectors.errors import ConnectorError
from aria_contracts.events import (
    DOMAIN_MODELS,
    ActionCompleted,
    ActionRequested,
    Alert,
    DomainEntity,
    Provenance,
    Risk,
    Ticket,
)
from aria_contracts.ids import entity_id as make_entity_id
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced

from ..connectors import RunError, lease_secrets, open_instance, plugin_for
from ..rules import service as rules
from . import repo
from .budgets import TargetBudgets

log = structlog.get_logger(__name__)
SOURCE = "sync-runner"
# Strategies under which a request that may have reached the vendor can be sent again.
RESENDABLE = frozenset({"header", "body", "lookup", "natural"})
_MODELS = {m.entity_type: m for m in DOMAIN_MODELS}
# A request naming an entity published moments before may be consumed before the entity is.
ENTITY_WAIT_S = 5.0
TICKET_STATUS = {"open": "open", "in_progress": "in_progress", "resolved": "resolved", "suppressed": "closed"}


class _Failed(Exception):
    def __init__(self, error_class: str, message: str):
        super().__init__(message)
        self.error_class, self.message = error_class, message


async def run_action(*, pool: asyncpg.Pool, outbound: httpx.AsyncClient, vault_gateway: InternalClient,
                     request: ActionRequested, budgets: TargetBudgets | None = None,
                     retries: rules.RetryPolicy = rules.RetryPolicy(), entity_wait_s: float = ENTITY_WAIT_S) -> str:
    """Execute one requested run at most once; returns its status ('skipped' when it already had one)."""
    finish = functools.partial(_finish, pool, request, retries=retries)
    async with pool.acquire() as conn:
        attempt = await repo.begin(conn, run_id=request.run_id, installation_id=request.installation_id,
                                   org_id=request.org_id, action=request.action, entity_id=request.entity_id)
    if attempt is None:
        return "skipped"  # its outcome and completion event were committed together
    bound = log.bind(run_id=str(request.run_id), installation_id=str(request.installation_id), action=request.action)
    entity: DomainEntity | None = None
    try:
        plugin = plugin_for(request.integration_key)
        try:
            spec = plugin.manifest.push_action(request.action)
        except KeyError:
            raise _Failed("configuration", f"{request.integration_key} has no push action {request.action!r}") from None
        if attempt > 1 and spec.idempotency.strategy not in RESENDABLE:
            return await finish(entity, status="unknown", error_class="transient",
                                 error_message="an earlier attempt may have reached the vendor, which cannot "
                                               "de-duplicate this action; not re-sent")
        if spec.input != "ticket":
            entity = await _entity(pool, request, spec.input, wait_s=entity_wait_s)
        secrets = await lease_secrets(vault_gateway, credential_ref=request.credential_ref,
                                      installation_id=request.installation_id)
        instance = open_instance(plugin, org_id=request.org_id, installation_id=request.installation_id,
                                 integration_key=request.integration_key, settings=request.settings,
                                 secrets=secrets, http=outbound)
        secrets = {}
        try:
            if budgets is not None:
                await budgets.acquire(request.installation_id, plugin.manifest.rate_limits)
            result = await instance.push(request.action, PushRequest(
                event=entity, vendor_id=request.vendor_id, changes=request.changes, comment=request.comment))
        finally:
            await instance.close()
    except (RunError, ConnectorError, _Failed) as exc:
        unknown = bool(getattr(exc, "outcome_unknown", False))
        message = f"{exc.message} (the vendor may have applied it; not re-sent)" if unknown else exc.message
        bound.warning("action failed", error_class=exc.error_class, error=exc.message, unknown=unknown)
        return await finish(entity, status="unknown" if unknown else "failed", error_class=exc.error_class,
                            error_message=message)
    bound.info("action ran", vendor_status=result.status, vendor_id=result.vendor_id)
    return await finish(entity, status="succeeded", vendor_id=result.vendor_id or None,
                        vendor_url=result.details.get("url"), vendor_status=result.status,
                        ticket=(plugin, result) if spec.kind == "create_ticket" and entity is not None else None)


async def _entity(pool: asyncpg.Pool, request: ActionRequested, entity_type: str, *, wait_s: float) -> DomainEntity:
    """The event the action acts on: sent with the request, or the newest one seen of that entity."""
    model = _MODELS[entity_type]
    if request.event is not None:
        data = request.event
    elif request.entity_id is not None:
        deadline = asyncio.get_running_loop().time() + wait_s
        while (row := await repo.entity(pool, org_id=request.org_id, entity_id=request.entity_id)) is None:
            if asyncio.get_running_loop().time() >= deadline:
                raise _Failed("permanent", f"no {entity_type} {request.entity_id} has been seen by the platform")
            await asyncio.sleep(0.25)
        if row["entity_type"] != entity_type:
            raise _Failed("permanent", f"entity {request.entity_id} is a {row['entity_type']}, "
                                       f"this action takes a {entity_type}")
        data = row["event"]
    else:
        raise _Failed("permanent", "neither an entity id nor an event was given")
    try:
        entity = model.model_validate(data)
    except ValidationError:
        raise _Failed("permanent", f"the event is not a valid {entity_type}") from None
    if entity.org_id != request.org_id:
        raise _Failed("permanent", "the event belongs to another organization")
    return entity


async def _finish(pool: asyncpg.Pool, request: ActionRequested, entity: DomainEntity | None, *, status: str,
                  vendor_id: str | None = None, vendor_url: str | None = None, vendor_status: str | None = None,
                  error_class: str | None = None, error_message: str | None = None, ticket=None,
                  retries: rules.RetryPolicy) -> str:
    """The outcome, the completion event, (a ticket opened for an entity) its link and ticket event,
    and (a rule's run) the rule execution's next state: one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await repo.finish(conn, run_id=request.run_id, status=status, vendor_id=vendor_id, vendor_url=vendor_url,
                          vendor_status=vendor_status, error_class=error_class, error_message=error_message)
        if ticket is not None and entity is not None and vendor_id:
            plugin, result = ticket
            await repo.link_ticket(conn, ticket_installation_id=request.installation_id, vendor_id=vendor_id,
                                   org_id=request.org_id, entity_id=entity.entity_id,
                                   integration_key=request.integration_key, run_id=request.run_id)
            target = {"installation_id": request.installation_id, "integration_key": request.integration_key}
            await enqueue(conn, _wrap(ticket_for(plugin, target, request.action, entity, result), request))
        await enqueue(conn, _wrap(ActionCompleted(
            run_id=request.run_id, installation_id=request.installation_id, org_id=request.org_id,
            integration_key=request.integration_key, action=request.action, status=status, vendor_id=vendor_id,
            vendor_url=vendor_url, vendor_status=vendor_status, error_class=error_class, error_message=error_message,
            entity_id=entity.entity_id if entity is not None else request.entity_id,
            completed_at=datetime.now(timezone.utc), rule_id=request.rule_id,
            rule_execution_id=request.rule_execution_id), request))
        await rules.settle(conn, request=request, status=status, policy=retries, vendor_id=vendor_id,
                           vendor_status=vendor_status, error_class=error_class, error_message=error_message)
    return status


def ticket_for(plugin, target, action: str, risk: DomainEntity, result) -> Ticket:
    """The ticket a create_ticket push made (or found: status duplicate), linked to its entity.
    ``target``: the ticketing installation (installation_id, integration_key)."""
    raw = {"vendor_id": result.vendor_id, "linked_entity_id": str(risk.entity_id), "action": action}
    return Ticket(
        entity_id=make_entity_id(org_id=risk.org_id, integration_key=target["integration_key"], entity_type="ticket",
                                 external_id=result.vendor_id),
        org_id=risk.org_id,
        provenance=Provenance(installation_id=target["installation_id"], integration_key=target["integration_key"],
                              connector_version=plugin.manifest.version, stream=f"push:{action}",
                              external_id=result.vendor_id, raw_sha256=_digest(raw)),
        vendor_ticket_id=result.vendor_id, title=risk.title, status="open", url=result.details.get("url"),
        linked_entity_id=risk.entity_id, created_at=datetime.now(timezone.utc))


def _wrap(payload, request: ActionRequested):
    return traced(payload, source=SOURCE, org_id=request.org_id, installation_id=request.installation_id)


# --- entities seen, and ticket status flowing back ---------------------------------------


async def observe(*, pool: asyncpg.Pool, entity: DomainEntity) -> bool:
    """Keep the newest risk / alert per entity; a synced-back ticket whose status changed updates
    the entity it was opened for. Returns True when a status was carried back."""
    await repo.remember_entity(pool, entity_id=entity.entity_id, org_id=entity.org_id,
                               entity_type=entity.entity_type, event=entity.model_dump(mode="json"))
    if not isinstance(entity, Risk) or not _is_ticketing(entity.provenance.integration_key):
        return False
    async with pool.acquire() as conn, conn.transaction():
        link = await repo.follow_link(conn, ticket_installation_id=entity.provenance.installation_id,
                                      vendor_id=entity.provenance.external_id, status=entity.status)
        if link is None:
            return False
        origin = await repo.entity(conn, org_id=link["org_id"], entity_id=link["entity_id"])
        envelope_of = lambda payload: traced(payload, source=SOURCE, org_id=link["org_id"],  # noqa: E731
                                             installation_id=entity.provenance.installation_id)
        await enqueue(conn, envelope_of(_ticket_status(entity, link)))
        if origin is not None and origin["entity_type"] == "risk":
            followed = _followed(Risk.model_validate(origin["event"]), ticket=entity)
            if followed is not None:
                await enqueue(conn, envelope_of(followed))
    log.info("ticket status followed", entity_id=str(link["entity_id"]), status=entity.status)
    return True


def _is_ticketing(integration_key: str) -> bool:
    try:
        return any(a.kind == "create_ticket" for a in plugin_for(integration_key).manifest.push)
    except RunError:
        return False


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def _followed(origin: Risk, *, ticket: Risk) -> Risk | None:
    """The originating risk with its ticket's status (None when it already has it)."""
    if origin.status == ticket.status:
        return None
    provenance = origin.provenance.model_copy(update={
        "stream": f"ticket:{ticket.provenance.integration_key}",
        "raw_sha256": _digest([str(origin.entity_id), ticket.provenance.external_id, ticket.status,
                               ticket.provenance.raw_sha256])})
    attributes = {**origin.attributes, "ticket_status": {"installation_id": str(ticket.provenance.installation_id),
                                                         "vendor_id": ticket.provenance.external_id,
                                                         "status": ticket.status}}
    return origin.model_copy(update={"status": ticket.status, "provenance": provenance, "attributes": attributes})


def _ticket_status(ticket: Risk, link: asyncpg.Record) -> Ticket:
    p = ticket.provenance
    return Ticket(
        entity_id=make_entity_id(org_id=link["org_id"], integration_key=p.integration_key, entity_type="ticket",
                                 external_id=p.external_id),
        org_id=link["org_id"],
        provenance=Provenance(installation_id=p.installation_id, integration_key=p.integration_key,
                              connector_version=p.connector_version, stream="ticket_status",
                              external_id=p.external_id, raw_sha256=p.raw_sha256, sync_job_id=p.sync_job_id,
                              webhook_delivery_id=p.webhook_delivery_id),
        vendor_ticket_id=p.external_id, key=p.external_id, title=ticket.title,
        status=TICKET_STATUS[ticket.status], vendor_status=(ticket.attributes or {}).get("jira_status"),
        linked_entity_id=link["entity_id"], updated_at=ticket.last_seen)
