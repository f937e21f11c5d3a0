"""Automation rules: an organization's "when an entity event matches, run this push action".

The installer owns rules: it checks them (the target installation is the organization's, its
connector has the action, the trigger and the input mapping compile with
``aria_connectors.rules`` and the mapped fields are ones the action takes), keeps every version
and an audit trail, and publishes each rule's newest version (``automation_rule.changed`` on the
compacted ``aria.automation.rules``) through the outbox in the change's transaction. sync-runner
keeps the rules, evaluates entity events and executes matches through its actions executor; its
executions are read and retried here through its internal API.

A dry-run evaluates a rule (saved or not) against the newest entities sync-runner keeps for the
organization and returns what it would have done — matched entities and the input each would get,
checked like an on-demand run's — without recording or requesting anything.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import asyncpg
import structlog

from aria_connectors import registry
from aria_connectors.rules import CompiledRule, RuleInvalid, compile_rule, input_names
from aria_connectors.sdk.manifest import PushAction
from aria_contracts.events import RuleAction, RuleChanged, RuleTrigger
from aria_platform.auth import Principal
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem, not_found
from aria_platform.text import first_unstorable

from ..actions import inputs
from ..installations import repo as installations
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "installer"
CONVERTED_BY = "system:push_min_severity"
# Fixed: the rule converted from an installation's push_min_severity has an id derived from the
# installation, so the conversion is idempotent across restarts and replicas.
CONVERSION_NAMESPACE = uuid.UUID("0b7d1c6e-3f0a-4e8b-9c2d-5a6b7c8d9e01")
TICKET_CHANGES = set(inputs.TicketChanges.model_fields)


@dataclass(frozen=True)
class RuleDefinition:
    """What a caller writes: everything of a rule but its identity and version."""

    name: str
    description: str | None
    enabled: bool
    trigger: RuleTrigger
    action: RuleAction


@dataclass(frozen=True)
class Checked:
    compiled: CompiledRule
    spec: PushAction
    target: asyncpg.Record


def _invalid(code: str, title: str, detail: str, errors: list[dict[str, str]]) -> Problem:
    return Problem(422, code, title, detail, errors=errors)


def _spec(integration_key: str, name: str) -> PushAction:
    try:
        actions = registry.get(integration_key).manifest.push
    except registry.UnknownConnector:
        actions = []
    for spec in actions:
        if spec.name == name:
            return spec
    raise _invalid("unknown_action", "Unknown action", f"{integration_key} has no push action {name!r}",
                   [{"field": "action.action", "message": f"one of: {', '.join(a.name for a in actions) or 'none'}"}])


def _input_errors(spec: PushAction, definition: RuleDefinition) -> list[dict[str, str]]:
    """The mapped fields against what the action takes (inputs.input_schema), before any event."""
    names = input_names(definition.action)
    takes = set(inputs.input_schema(spec)["properties"])
    errors = []
    for name in names:
        head, _, rest = name.partition(".")
        if head not in takes or (rest and head != "changes") or (head == "changes" and rest and
                                                                  rest not in TICKET_CHANGES):
            errors.append({"field": f"action.input.{name}", "message": f"not taken by {spec.name}"})
        if head == "changes" and not rest:
            errors.append({"field": f"action.input.{name}", "message": "map each change (changes.status...)"})
    given = set(names)
    if spec.input == "ticket":
        if "vendor_id" not in given:
            errors.append({"field": "action.input.vendor_id", "message": "required: the ticket's id at the vendor"})
        if spec.kind == "add_comment" and "comment" not in given:
            errors.append({"field": "action.input.comment", "message": "required"})
        if spec.kind == "update_ticket" and not any(n.startswith("changes.") for n in given):
            errors.append({"field": "action.input.changes", "message": "required: at least one change"})
    else:
        if len(given & {"entity_id", "event"}) != 1:
            errors.append({"field": "action.input.entity_id", "message": "map exactly one of entity_id and event"})
        if spec.kind == "update_status" and "changes.status" not in given:
            errors.append({"field": "action.input.changes.status", "message": "required"})
        if definition.trigger.entity_type != spec.input:
            errors.append({"field": "trigger.entity_type",
                           "message": f"{spec.name} acts on a {spec.input}; this rule's trigger is "
                                      f"{definition.trigger.entity_type} events"})
    return errors


async def check(conn, *, principal: Principal, definition: RuleDefinition) -> Checked:
    """Refuse a bad rule with problem+json: rule_invalid, unknown_action or rule_input_invalid."""
    if (bad := first_unstorable({"name": definition.name, "description": definition.description,
                                 "trigger": definition.trigger.model_dump(mode="json"),
                                 "action": definition.action.model_dump(mode="json")})) is not None:
        raise _invalid("invalid_text", "Rule contains unstorable text", f"{bad[0]} {bad[1]}",
                       [{"field": bad[0], "message": bad[1]}])
    target = await installations.get(conn, org_id=principal.org_id,
                                     installation_id=definition.action.installation_id)
    if target is None:
        raise _invalid("rule_invalid", "Rule is invalid", "the target installation is not one of your organization's",
                       [{"field": "action.installation_id", "message": "no such installation"}])
    spec = _spec(target["integration_key"], definition.action.action)
    try:
        compiled = compile_rule(definition.trigger, definition.action)
    except RuleInvalid as exc:
        mapping = [e for e in exc.errors if e["field"].startswith("action.input")]
        raise _invalid("rule_input_invalid" if mapping else "rule_invalid",
                       "Rule input mapping is invalid" if mapping else "Rule is invalid",
                       "the rule does not compile", exc.errors) from None
    if errors := _input_errors(spec, definition):
        raise _invalid("rule_input_invalid", "Rule input mapping is invalid",
                       f"the mapped input does not match what {spec.name} takes", errors)
    return Checked(compiled=compiled, spec=spec, target=target)


def _changed(row: asyncpg.Record) -> RuleChanged:
    return RuleChanged(rule_id=row["id"], org_id=row["org_id"], version=row["version"], name=row["name"],
                       enabled=row["enabled"], deleted=row["deleted_at"] is not None,
                       trigger=RuleTrigger.model_validate(row["trigger"]),
                       action=RuleAction.model_validate(row["action"]), changed_by=row["updated_by"],
                       changed_at=row["updated_at"])


async def _announce(conn, row: asyncpg.Record, *, change: str, actor: str) -> None:
    """The version, its audit line and its event: in the caller's transaction."""
    await repo.add_version(conn, row, change=change)
    await repo.audit(conn, rule_id=row["id"], org_id=row["org_id"], actor=actor, event=change,
                     version=row["version"])
    await enqueue(conn, traced(_changed(row), source=SOURCE, org_id=row["org_id"],
                               installation_id=uuid.UUID(str(row["action"]["installation_id"]))))


def _columns(definition: RuleDefinition) -> dict[str, Any]:
    return dict(name=definition.name, description=definition.description, enabled=definition.enabled,
                trigger=definition.trigger.model_dump(mode="json"), action=definition.action.model_dump(mode="json"))


async def create(*, pool: asyncpg.Pool, principal: Principal, definition: RuleDefinition) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        await check(conn, principal=principal, definition=definition)
        row = await repo.insert(conn, rule_id=uuid.uuid4(), org_id=principal.org_id, actor=principal.subject,
                                **_columns(definition))
        await _announce(conn, row, change="created", actor=principal.subject)
    return row


async def update(*, pool: asyncpg.Pool, principal: Principal, rule_id: uuid.UUID, definition: RuleDefinition,
                 expected_version: int | None) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        current = await _live(conn, principal, rule_id, expected_version, for_update=True)
        await check(conn, principal=principal, definition=definition)
        row = await repo.update(conn, rule_id=current["id"], actor=principal.subject, **_columns(definition))
        await _announce(conn, row, change="updated", actor=principal.subject)
    return row


async def delete(*, pool: asyncpg.Pool, principal: Principal, rule_id: uuid.UUID,
                 expected_version: int | None) -> None:
    """A new, deleted version: sync-runner stops evaluating it; its history stays readable."""
    async with pool.acquire() as conn, conn.transaction():
        current = await _live(conn, principal, rule_id, expected_version, for_update=True)
        row = await repo.update(conn, rule_id=current["id"], name=current["name"],
                                description=current["description"], enabled=False, trigger=current["trigger"],
                                action=current["action"], actor=principal.subject, deleted=True)
        await _announce(conn, row, change="deleted", actor=principal.subject)


async def _live(conn, principal: Principal, rule_id: uuid.UUID, expected_version: int | None = None,
                for_update: bool = False) -> asyncpg.Record:
    row = await repo.get(conn, org_id=principal.org_id, rule_id=rule_id, for_update=for_update)
    if row is None:
        raise not_found("rule")
    if expected_version is not None and row["version"] != expected_version:
        raise Problem(409, "rule_version_conflict", "Rule changed meanwhile",
                      f"the rule is at version {row['version']}, not {expected_version}; reload it and apply "
                      "your change again")
    return row


async def get(*, pool: asyncpg.Pool, principal: Principal, rule_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await _live(conn, principal, rule_id)


async def list_page(*, pool: asyncpg.Pool, principal: Principal, after: tuple[datetime, uuid.UUID] | None,
                    limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await repo.page(conn, org_id=principal.org_id, after=after, limit=limit)


async def versions(*, pool: asyncpg.Pool, principal: Principal, rule_id: uuid.UUID, before: int | None,
                   limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if not await repo.exists(conn, org_id=principal.org_id, rule_id=rule_id):
            raise not_found("rule")
        return await repo.versions(conn, rule_id=rule_id, before=before, limit=limit)


async def audit(*, pool: asyncpg.Pool, principal: Principal, rule_id: uuid.UUID, before: int | None,
                limit: int) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        if not await repo.exists(conn, org_id=principal.org_id, rule_id=rule_id):
            raise not_found("rule")
        return await repo.audit_page(conn, rule_id=rule_id, before=before, limit=limit)


# --- dry-run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DryRunMatch:
    entity_id: str
    summary: dict[str, Any]
    input: dict[str, Any] | None
    errors: list[dict[str, str]]


@dataclass(frozen=True)
class DryRun:
    evaluated: int
    matches: list[DryRunMatch]
    target_enabled: bool


_SUMMARY = ("title", "name", "value", "severity", "status", "category")


async def dry_run(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                  definition: RuleDefinition, limit: int) -> DryRun:
    """What the rule would have done with the newest ``limit`` entities of its type: no vendor is
    called, nothing is recorded."""
    async with pool.acquire() as conn:
        checked = await check(conn, principal=principal, definition=definition)
    response = await sync_runner.request("GET", f"/internal/v1/orgs/{principal.org_id}/entities",
                                         params={"entity_type": definition.trigger.entity_type, "limit": limit})
    if response.status_code != 200:
        raise Problem(502, "dependency_failed", "Recent entities not available",
                      f"sync-runner answered {response.status_code}")
    items = response.json()["items"]
    matches = []
    for item in items:
        event = item["event"]
        match = checked.compiled.evaluate(event, entity_type=definition.trigger.entity_type,
                                          from_push_integration=item["from_push_integration"])
        if match is None:
            continue
        errors = [{"field": "action.input", "message": match.error}] if match.error else []
        if match.input is not None:
            try:
                body = inputs.ActionInput.model_validate(match.input)
            except ValueError as exc:
                errors += [{"field": "action.input." + ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                           for e in getattr(exc, "errors", lambda: [])()[:10]]
            else:
                errors += inputs.check(checked.spec, body, org_id=principal.org_id)[1]
        summary = {k: event[k] for k in _SUMMARY if event.get(k) is not None}
        summary["integration_key"] = (event.get("provenance") or {}).get("integration_key")
        matches.append(DryRunMatch(entity_id=match.entity_id, summary=summary, input=match.input, errors=errors))
    return DryRun(evaluated=len(items), matches=matches, target_enabled=checked.target["status"] == "enabled")


# --- executions (sync-runner's), retried by a person ---------------------------------------


def _relay(response) -> Problem:
    body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
    return Problem(response.status_code, body.get("code", f"http_{response.status_code}"),
                   body.get("title", "Rule execution request refused"), body.get("detail"))


async def executions(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal, rule_id: uuid.UUID,
                     status: str | None, cursor: str | None, limit: int) -> dict[str, Any]:
    async with pool.acquire() as conn:
        if not await repo.exists(conn, org_id=principal.org_id, rule_id=rule_id):
            raise not_found("rule")
    params = {"limit": limit, **({"status": status} if status else {}), **({"cursor": cursor} if cursor else {})}
    response = await sync_runner.request("GET", f"/internal/v1/orgs/{principal.org_id}/rules/{rule_id}/executions",
                                         params=params)
    if response.status_code != 200:
        raise _relay(response)
    return response.json()


async def retry(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal, rule_id: uuid.UUID,
                execution_id: uuid.UUID) -> dict[str, Any]:
    """Operators retry; a destructive action's execution needs an admin, as running it would."""
    async with pool.acquire() as conn:
        rule = await _live(conn, principal, rule_id)
        target = await installations.get(conn, org_id=principal.org_id,
                                         installation_id=uuid.UUID(str(rule["action"]["installation_id"])))
    if target is not None:
        try:
            destructive = _spec(target["integration_key"], rule["action"]["action"]).destructive
        except Problem:
            destructive = False
        if destructive and principal.role != "admin":
            raise Problem(403, "insufficient_role", "Forbidden",
                          f"{rule['action']['action']} is destructive: retrying it needs role admin")
    response = await sync_runner.request(
        "POST", f"/internal/v1/orgs/{principal.org_id}/rules/{rule_id}/executions/{execution_id}/retry")
    if response.status_code != 202:
        raise _relay(response)
    async with pool.acquire() as conn:
        await repo.audit(conn, rule_id=rule_id, org_id=principal.org_id, actor=principal.subject,
                         event="execution_retried", version=rule["version"],
                         details={"execution_id": str(execution_id), "entity_id": response.json()["entity_id"]})
    return response.json()


# --- the retired severity-threshold push ---------------------------------------------------


def converted_rule_id(installation_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(CONVERSION_NAMESPACE, f"push_min_severity:{installation_id}")


def push_rule(*, installation_id: uuid.UUID, integration_key: str, min_severity: str) -> RuleDefinition | None:
    """The rule equivalent to an installation's push_min_severity: open or in-progress risks at
    least that severe, not from an integration with push actions (from_push_integrations false:
    tickets synced back as risks are never pushed), to its create_ticket action, else its
    send_event (the first of those kinds taking risks, as the push chose)."""
    try:
        actions = registry.get(integration_key).manifest.push
    except registry.UnknownConnector:
        return None
    for kind in ("create_ticket", "send_event"):
        for spec in actions:
            if spec.kind == kind and spec.input == "risk":
                return RuleDefinition(
                    name=f"Push risks of severity {min_severity} or above to {integration_key}",
                    description="Converted from the installation's push_min_severity setting.", enabled=True,
                    trigger=RuleTrigger(entity_type="risk", min_severity=min_severity,
                                        statuses=["open", "in_progress"], from_push_integrations=False),
                    action=RuleAction(installation_id=installation_id, action=spec.name))
    return None


async def convert_push_settings(*, pool: asyncpg.Pool) -> int:
    """Make each installation's push_min_severity an equivalent rule, once (the rule's id is
    derived from the installation: a second run, or another replica, finds it and adds nothing;
    a converted rule an admin deleted is not brought back). Returns how many were made."""
    made = 0
    async with pool.acquire() as conn:
        candidates = await repo.push_settings(conn)
    for row in candidates:
        definition = push_rule(installation_id=row["id"], integration_key=row["integration_key"],
                               min_severity=row["min_severity"])
        if definition is None or row["min_severity"] not in ("info", "low", "medium", "high", "critical"):
            continue
        async with pool.acquire() as conn, conn.transaction():
            created = await repo.insert(conn, rule_id=converted_rule_id(row["id"]), org_id=row["org_id"],
                                        actor=CONVERTED_BY, **_columns(definition))
            if created is not None:
                await _announce(conn, created, change="created", actor=CONVERTED_BY)
                made += 1
    if made:
        log.info("push_min_severity converted to rules", rules=made, at=datetime.now(timezone.utc).isoformat())
    return made
