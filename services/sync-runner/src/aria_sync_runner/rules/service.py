"""Automation rules: evaluate entity events against the organization's rules and execute matches
through the actions executor, at most once per (rule, entity, change).

The installer owns rules (API, versions, audit) and publishes each rule's newest version on the
compacted ``aria.automation.rules``; sync-runner keeps them (automation_rules) and evaluates every
risk, alert, vulnerability, asset and indicator event it consumes (the entity consumer, right
after it remembers the entity) with ``aria_connectors.rules``. A rule acts on entity changes
published from the time its version was saved (``effective_from``), so a new consumer group
reading a compacted topic from its start does not fire rules on old entities.

A match becomes one execution row per (rule, entity, change) — the change is the entity's raw
SHA-256, so a redelivered or re-published event asks for nothing — and, in the same transaction,
an ``action.requested`` (outbox) with a run id derived from the execution and its attempt. The
on-demand actions executor (``actions.service.run_action``) runs each run id once and settles the
execution in its outcome's transaction (``settle``): succeeded; a transient failure (transient,
rate limited, internal) is tried again after an exponential backoff (``retry_due``, any replica,
``FOR UPDATE SKIP LOCKED``); a permanent one, an outcome that may have reached the vendor
(unknown: never re-sent on its own), or the last attempt is dead-lettered (``aria.deadletter``)
and waits for a person to retry it through the API (``retry``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import asyncpg
import structlog
from pydantic import ValidationError

from aria_connectors.rules import CompiledRule, RuleInvalid, compile_rule
from aria_contracts.events import ActionRequested, DeadLetter, DomainEntity, RuleChanged
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem, not_found

from ..connectors import RunError, plugin_for
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "sync-runner"
# Fixed: execution and run ids are derived from it, so every replica derives the same ones.
NAMESPACE = uuid.UUID("6f0c3a52-9b1e-4c8e-a5f4-1d2e3c4b5a60")
RETRIED = frozenset({"transient", "rate_limited", "internal"})
ENTITY_TYPES = ("risk", "alert", "vulnerability", "asset", "indicator")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts of one execution before it is dead-lettered, and the backoff between them."""

    max_attempts: int = 5
    backoff_s: float = 30.0
    backoff_max_s: float = 3600.0

    def delay_s(self, attempt: int) -> float:
        # Jitter so that a vendor outage's failures do not all come back at once.
        return min(self.backoff_max_s, self.backoff_s * 2 ** (attempt - 1)) * (1 + random.random() / 10)


def execution_id_for(rule_id: uuid.UUID, entity_id: uuid.UUID, change: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{rule_id}:{entity_id}:{change}")


def run_id_for(execution_id: uuid.UUID, attempt: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{execution_id}:{attempt}")


# --- the rules sync-runner keeps --------------------------------------------------------


async def store(*, pool: asyncpg.Pool, changed: RuleChanged) -> bool:
    """Keep a rule's newest version; False when it is not newer than the one kept."""
    return await repo.store_rule(pool, rule_id=changed.rule_id, org_id=changed.org_id, version=changed.version,
                                 entity_type=changed.trigger.entity_type,
                                 active=changed.enabled and not changed.deleted,
                                 rule=changed.model_dump(mode="json"), effective_from=changed.changed_at)


@functools.lru_cache(maxsize=1024)
def _compiled(rule_id: uuid.UUID, version: int, rule_json: str) -> CompiledRule | None:
    """Each version is compiled once (keyed by id and version; the JSON is the version's)."""
    changed = RuleChanged.model_validate_json(rule_json)
    try:
        return compile_rule(changed.trigger, changed.action)
    except RuleInvalid as exc:  # the installer refuses these; one from a newer installer is skipped
        log.warning("rule not compiled", rule_id=str(rule_id), version=version, error=str(exc))
        return None


@functools.lru_cache(maxsize=256)
def has_push_actions(integration_key: str) -> bool:
    try:
        return bool(plugin_for(integration_key).manifest.push)
    except RunError:
        return False


# --- evaluating an entity event ----------------------------------------------------------


async def evaluate(*, pool: asyncpg.Pool, entity: DomainEntity, published_at: datetime) -> int:
    """Request the action of every active rule of the entity's organization it matches; returns
    how many executions were started (0 for a change already evaluated)."""
    if entity.entity_type not in ENTITY_TYPES:
        return 0
    rules = await repo.active_rules(pool, org_id=entity.org_id, entity_type=entity.entity_type)
    if not rules:
        return 0
    event = entity.model_dump(mode="json")
    from_push = has_push_actions(entity.provenance.integration_key)
    started = 0
    for row in rules:
        if published_at < row["effective_from"]:
            continue
        compiled = _compiled(row["rule_id"], row["version"], _json(row["rule"]))
        match = compiled.evaluate(event, entity_type=entity.entity_type, from_push_integration=from_push) \
            if compiled is not None else None
        if match is None:
            continue
        started += await _start(pool, rule_id=row["rule_id"], version=row["version"], action=compiled.action,
                                entity=entity, input=match.input, error=match.error)
    return started


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


async def _start(pool: asyncpg.Pool, *, rule_id: uuid.UUID, version: int, action, entity: DomainEntity,
                 input: dict[str, Any] | None, error: str | None) -> int:
    change = entity.provenance.raw_sha256
    execution_id = execution_id_for(rule_id, entity.entity_id, change)
    run_id = run_id_for(execution_id, 1)
    async with pool.acquire() as conn, conn.transaction():
        if not await repo.begin(conn, execution_id=execution_id, rule_id=rule_id, rule_version=version,
                                org_id=entity.org_id, entity_id=entity.entity_id, change_sha256=change,
                                installation_id=action.installation_id, action=action.action, input=input or {},
                                run_id=run_id):
            return 0
        row = await repo.execution(conn, org_id=entity.org_id, rule_id=rule_id, execution_id=execution_id)
        if error is not None:
            await _dead(conn, row, "permanent", f"the action input could not be mapped from the event: {error}")
        else:
            await _request(conn, row, run_id=run_id)
    log.info("rule matched", rule_id=str(rule_id), entity_id=str(entity.entity_id), execution_id=str(execution_id))
    return 1


async def _request(conn: asyncpg.Connection, row: asyncpg.Record, *, run_id: uuid.UUID) -> bool:
    """Enqueue the attempt's action.requested for the target as it is now; dead-letter when the
    target is not an enabled installation or the input is not one the action request can carry."""
    target = await repo.target(conn, row["installation_id"], row["org_id"])
    if target is None:
        await _dead(conn, row, "configuration", "the target installation is not enabled (or not installed)")
        return False
    given = row["input"] or {}
    try:
        extra = set(given) - {"entity_id", "event", "vendor_id", "changes", "comment"}
        if extra:
            raise ValueError(f"the action takes no {', '.join(sorted(extra))}")
        request = ActionRequested(
            run_id=run_id, installation_id=target["installation_id"], org_id=row["org_id"],
            integration_key=target["integration_key"], action=row["action"], requested_by=f"rule:{row['rule_id']}",
            config_version=target["config_version"] or 0, settings=target["settings"] or {},
            credential_ref=target["credential_ref"], entity_id=given.get("entity_id"), event=given.get("event"),
            vendor_id=_text(given.get("vendor_id")), changes=given.get("changes") or {},
            comment=_text(given.get("comment")), rule_id=row["rule_id"], rule_execution_id=row["id"])
    except (ValidationError, ValueError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        await _dead(conn, row, "permanent", f"the mapped input is not valid for {row['action']}: {reason}")
        return False
    await enqueue(conn, traced(request, source=SOURCE, org_id=row["org_id"], installation_id=row["installation_id"]))
    return True


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


async def _dead(conn: asyncpg.Connection, row: Any, error_class: str, message: str) -> None:
    """Dead-letter the execution: its state and the dead letter commit together."""
    await repo.dead(conn, execution_id=row["id"], error_class=error_class, error_message=message)
    integration_key = await repo.integration_key(conn, row["installation_id"]) or "unknown"
    await enqueue(conn, traced(DeadLetter(
        installation_id=row["installation_id"], org_id=row["org_id"], integration_key=integration_key,
        origin=f"rule:{row['rule_id']}:{row['action']}", external_id=str(row["entity_id"]),
        reason=f"{error_class}: {message}", raw_sha256=row["change_sha256"], failed_at=datetime.now(timezone.utc)),
        source=SOURCE, org_id=row["org_id"], installation_id=row["installation_id"]))
    log.warning("rule execution dead-lettered", execution_id=str(row["id"]), error_class=error_class, error=message)


# --- outcomes, retries -------------------------------------------------------------------


async def settle(conn: asyncpg.Connection, *, request: ActionRequested, status: str, policy: RetryPolicy,
                 vendor_id: str | None, vendor_status: str | None, error_class: str | None,
                 error_message: str | None) -> None:
    """In the transaction of the run's outcome: the execution's state after this attempt."""
    if request.rule_execution_id is None:
        return
    key = dict(execution_id=request.rule_execution_id, run_id=request.run_id)
    if status == "succeeded":
        await repo.settle(conn, **key, status="succeeded", vendor_id=vendor_id, vendor_status=vendor_status)
        return
    row = await repo.settle(conn, **key, status="retrying", error_class=error_class, error_message=error_message,
                            next_attempt_at=datetime.now(timezone.utc))
    if row is None:
        return
    if status == "failed" and error_class in RETRIED and row["attempts"] < policy.max_attempts:
        await conn.execute("UPDATE rule_executions SET next_attempt_at = now() + make_interval(secs => $2) "
                           "WHERE id = $1", row["id"], policy.delay_s(row["attempts"]))
        return
    why = "attempts used up: " if status == "failed" and error_class in RETRIED else ""
    await _dead(conn, row, error_class or "transient", why + (error_message or status))


async def retry_due(*, pool: asyncpg.Pool, limit: int = 50) -> int:
    """Request the next attempt of every execution that is due; returns how many."""
    async with pool.acquire() as conn, conn.transaction():
        rows = await repo.claim_due(conn, limit=limit)
        for row in rows:
            run_id = run_id_for(row["id"], row["attempts"] + 1)
            await repo.next_attempt(conn, execution_id=row["id"], run_id=run_id)
            await _request(conn, row, run_id=run_id)
    return len(rows)


async def retry_loop(*, pool: asyncpg.Pool, interval_s: float) -> None:
    """Background task of every replica (claims are row locks, so replicas share the work)."""
    while True:
        try:
            while await retry_due(pool=pool) > 0:
                pass
        except (asyncpg.PostgresError, OSError) as exc:
            log.warning("rule retries not requested", error=type(exc).__name__)
        await asyncio.sleep(interval_s)


async def retry(*, pool: asyncpg.Pool, org_id: uuid.UUID, rule_id: uuid.UUID, execution_id: uuid.UUID) -> asyncpg.Record:
    """A person retries a dead-lettered execution: its next attempt is due now."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.retry(conn, org_id=org_id, rule_id=rule_id, execution_id=execution_id)
        if row is None:
            current = await repo.execution(conn, org_id=org_id, rule_id=rule_id, execution_id=execution_id)
            if current is None:
                raise not_found("rule execution")
            raise Problem(409, "execution_not_dead", "Execution is not dead-lettered",
                          f"only a dead-lettered execution can be retried; this one is {current['status']}")
    return row


async def execution(*, pool: asyncpg.Pool, org_id: uuid.UUID, rule_id: uuid.UUID,
                    execution_id: uuid.UUID) -> asyncpg.Record:
    row = await repo.execution(pool, org_id=org_id, rule_id=rule_id, execution_id=execution_id)
    if row is None:
        raise not_found("rule execution")
    return row


async def executions(*, pool: asyncpg.Pool, org_id: uuid.UUID, rule_id: uuid.UUID, status: str | None,
                     after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[asyncpg.Record]:
    return await repo.page(pool, org_id=org_id, rule_id=rule_id, status=status, after=after, limit=limit)


async def recent_entities(*, pool: asyncpg.Pool, org_id: uuid.UUID, entity_type: str,
                          limit: int) -> list[dict[str, Any]]:
    """The newest entities of a type sync-runner keeps for the organization (dry-runs)."""
    rows = await repo.recent_entities(pool, org_id=org_id, entity_type=entity_type, limit=limit)
    return [{"event": r["event"], "updated_at": r["updated_at"],
             "from_push_integration": has_push_actions((r["event"].get("provenance") or {}).get("integration_key", ""))}
            for r in rows]

