"""On-demand push actions: what an installation's connector offers, running one, and its outcome.

The installer accepts a run (role, input, Idempotency-Key), records it as pending with an activity
line and publishes ``action.requested`` in one transaction (outbox); sync-runner, which holds the
connector instances and credential leases, executes it once and publishes ``action.completed``,
which records the outcome here. A retried request with the same key returns the same run and
publishes nothing, so it never reaches the vendor twice. Destructive actions need an admin.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from aria_connectors import registry
from aria_connectors.sdk.manifest import PushAction
from aria_contracts.events import ActionCompleted, ActionRequested
from aria_platform.auth import Principal
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem, not_found
from aria_platform.text import first_unstorable

from ..activity import repo as activity
from ..installations.service import load_installation, request_hash
from ..installations.states import next_state
from . import inputs, repo

log = structlog.get_logger(__name__)
SOURCE = "installer"


@dataclass(frozen=True)
class ActionInfo:
    name: str
    kind: str
    description: str | None
    input_type: str
    destructive: bool
    min_role: inputs.Role
    input_schema: dict[str, Any]


def _push_actions(integration_key: str) -> list[PushAction]:
    try:
        return list(registry.get(integration_key).manifest.push)
    except registry.UnknownConnector:
        return []


def _info(spec: PushAction) -> ActionInfo:
    return ActionInfo(name=spec.name, kind=spec.kind, description=spec.description, input_type=spec.input,
                      destructive=spec.destructive, min_role=inputs.min_role(spec),
                      input_schema=inputs.input_schema(spec))


async def list_actions(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID) -> list[ActionInfo]:
    async with pool.acquire() as conn:
        row = await load_installation(conn, principal=principal, installation_id=installation_id)
    return [_info(spec) for spec in _push_actions(row["integration_key"])]


def _spec(integration_key: str, name: str) -> PushAction:
    for spec in _push_actions(integration_key):
        if spec.name == name:
            return spec
    raise Problem(404, "unknown_action", "Unknown action", f"{integration_key} has no push action {name!r}")


async def run(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID, action: str,
              body: inputs.ActionInput, idempotency_key: str) -> tuple[asyncpg.Record, bool]:
    """Accept a run; returns (run, created). created is False for a retry with the same key."""
    async with pool.acquire() as conn:
        current = await load_installation(conn, principal=principal, installation_id=installation_id)
    spec = _spec(current["integration_key"], action)
    if spec.destructive and principal.role != "admin":
        raise Problem(403, "insufficient_role", "Forbidden",
                      f"{action} is destructive: it needs role admin")
    checked, errors = inputs.check(spec, body, org_id=principal.org_id)  # type: ignore[arg-type]
    if errors:
        raise Problem(422, "action_input_invalid", "Action input is invalid",
                      f"the input does not match what {action} takes", errors=errors)
    given = body.as_json()
    if (bad := first_unstorable(given)) is not None:
        raise Problem(422, "invalid_text", "Input contains unstorable text", f"{bad[0]} {bad[1]}",
                      errors=[{"field": bad[0], "message": bad[1]}])
    digest = request_hash({"installation_id": str(installation_id), "action": action, "input": given})
    async with pool.acquire() as conn, conn.transaction():
        if (seen := await _replay(conn, principal, idempotency_key, digest)) is not None:
            return seen, False
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        next_state("run_action", row["status"])
        run_id = uuid.uuid4()
        created = await repo.insert(conn, run_id=run_id, org_id=principal.org_id, installation_id=installation_id,
                                    integration_key=row["integration_key"], action=action, kind=spec.kind,
                                    destructive=spec.destructive, input=given, requested_by=principal.subject,
                                    idempotency_key=idempotency_key, request_hash=digest)
        if created is None:  # the same key committed by a concurrent request since _replay looked
            raise Problem(409, "idempotency_key_in_use", "Idempotency-Key in use",
                          "a request with this Idempotency-Key is being processed; retry it")
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="action",
                           status="info", actor=principal.subject, message=f"{action} requested",
                           details={"run_id": str(run_id), "action": action, "kind": spec.kind,
                                    "destructive": spec.destructive, "input": given})
        await enqueue(conn, traced(ActionRequested(
            run_id=run_id, installation_id=installation_id, org_id=row["org_id"],
            integration_key=row["integration_key"], action=action, requested_by=principal.subject,
            config_version=row["config_version"], settings=row["settings"],
            credential_ref=str(row["credential_ref"]) if row["credential_ref"] else None,
            entity_id=checked.entity_id, event=checked.event, vendor_id=checked.vendor_id, changes=checked.changes,
            comment=checked.comment), source=SOURCE, org_id=row["org_id"], installation_id=installation_id))
        return created, True


async def _replay(conn, principal: Principal, key: str, digest: str) -> asyncpg.Record | None:
    seen = await repo.by_key(conn, org_id=principal.org_id, idempotency_key=key)
    if seen is None:
        return None
    if seen["request_hash"] != digest:
        raise Problem(422, "idempotency_key_reused", "Idempotency-Key reused",
                      "this Idempotency-Key was used with a different request")
    return seen


async def get_run(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                  run_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        await load_installation(conn, principal=principal, installation_id=installation_id)
        row = await repo.get(conn, org_id=principal.org_id, installation_id=installation_id, run_id=run_id)
    if row is None:
        raise not_found("action run")
    return row


async def list_runs(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID, action: str | None,
                    after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        await load_installation(conn, principal=principal, installation_id=installation_id)
        return await repo.page(conn, org_id=principal.org_id, installation_id=installation_id, action=action,
                               after=after, limit=limit)


async def record_outcome(*, pool: asyncpg.Pool, completed: ActionCompleted) -> bool:
    """The run's outcome and its activity line; a redelivered completion changes nothing."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.complete(conn, run_id=completed.run_id, status=completed.status,
                                  vendor_id=completed.vendor_id, vendor_url=completed.vendor_url,
                                  vendor_status=completed.vendor_status, error_class=completed.error_class,
                                  error_message=completed.error_message, completed_at=completed.completed_at)
        if row is None:
            return False
        ok = completed.status == "succeeded"
        message = (f"{completed.action} {completed.vendor_status or 'done'}"
                   + (f": {completed.vendor_id}" if completed.vendor_id else "")) if ok else \
            f"{completed.action} {completed.status}: {completed.error_message or completed.error_class}"
        await activity.add(conn, installation_id=row["installation_id"], org_id=row["org_id"],
                           activity_type="action_result", status="success" if ok else "failure",
                           actor=row["requested_by"], message=message,
                           details={"run_id": str(completed.run_id), "action": completed.action,
                                    "status": completed.status, "vendor_id": completed.vendor_id,
                                    "vendor_status": completed.vendor_status, "error_class": completed.error_class})
    return True
