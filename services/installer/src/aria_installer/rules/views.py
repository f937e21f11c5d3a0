"""Public API of automation rules: viewers read, admins change, dry-run, executions and their retry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from aria_contracts.events import RuleAction, RuleTrigger
from aria_platform.auth import Principal, require_role
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.runtime import Runtime, get_runtime

from ..deps import InstallerDeps
from . import service

router = APIRouter(prefix="/v1/rules", tags=["automation rules"])
_INVALID = {422: {"description": "An invalid rule: rule_invalid, unknown_action or rule_input_invalid, with the "
                                 "fields at fault in `errors`"}}


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool = True
    trigger: RuleTrigger
    action: RuleAction

    def definition(self) -> service.RuleDefinition:
        return service.RuleDefinition(name=self.name, description=self.description, enabled=self.enabled,
                                      trigger=self.trigger, action=self.action)


class RuleUpdate(RuleIn):
    expected_version: int | None = Field(default=None, ge=1, description="Refuse the change (409 "
                                         "rule_version_conflict) unless the rule is still at this version.")


class Rule(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    enabled: bool
    version: int = Field(description="Each change makes a new version (GET …/versions).")
    trigger: RuleTrigger
    action: RuleAction
    created_by: str
    updated_by: str
    created_at: datetime
    updated_at: datetime


class RulePage(BaseModel):
    items: list[Rule]
    next_cursor: str | None


class RuleVersion(BaseModel):
    version: int
    change: Literal["created", "updated", "deleted"]
    name: str
    description: str | None
    enabled: bool
    trigger: RuleTrigger
    action: RuleAction
    changed_by: str
    changed_at: datetime


class RuleVersionPage(BaseModel):
    items: list[RuleVersion]
    next_cursor: str | None


class RuleAuditEntry(BaseModel):
    actor: str
    event: Literal["created", "updated", "deleted", "execution_retried"]
    version: int = Field(description="The rule's version the entry made or acted under.")
    details: dict[str, Any]
    created_at: datetime


class RuleAuditPage(BaseModel):
    items: list[RuleAuditEntry]
    next_cursor: str | None


class DryRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: RuleIn = Field(description="The rule as edited (saved or not).")
    limit: int = Field(default=200, ge=1, le=1000, description="How many of the newest entities to evaluate.")


class DryRunMatch(BaseModel):
    entity_id: str
    summary: dict[str, Any] = Field(description="The entity's title or name, severity, status, category, integration.")
    input: dict[str, Any] | None = Field(description="The action input the entity would get.")
    errors: list[dict[str, str]] = Field(description="Why this input would be refused (empty: it would run).")


class DryRun(BaseModel):
    evaluated: int = Field(description="Entities evaluated: the newest of the trigger's type sync-runner keeps.")
    matched: int
    matches: list[DryRunMatch]
    target_enabled: bool = Field(description="False: the target installation is not enabled, so nothing would run.")


class RuleExecution(BaseModel):
    id: uuid.UUID
    rule_id: uuid.UUID
    rule_version: int
    entity_id: uuid.UUID
    change_sha256: str = Field(description="The entity change (its raw SHA-256) the execution is for: one per "
                                           "rule, entity and change.")
    installation_id: uuid.UUID
    action: str
    input: dict[str, Any]
    status: Literal["requested", "succeeded", "retrying", "dead"] = Field(
        description="retrying: a transient failure, tried again at next_attempt_at; dead: dead-lettered (a "
                    "permanent failure, an outcome the vendor may have applied, or attempts used up), until "
                    "retried through the API.")
    attempts: int
    run_id: uuid.UUID = Field(description="The current attempt's action run.")
    next_attempt_at: datetime | None
    vendor_id: str | None
    vendor_status: str | None
    error_class: str | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class RuleExecutionPage(BaseModel):
    items: list[RuleExecution]
    next_cursor: str | None


def _rule(row) -> Rule:
    return Rule(**{k: row[k] for k in Rule.model_fields})


def _after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    after = decode_cursor(cursor, arity=2)
    if not after:
        return None
    try:
        return datetime.fromisoformat(after[0]), uuid.UUID(after[1])
    except (TypeError, ValueError, AttributeError):
        raise invalid_cursor() from None


def _before(cursor: str | None) -> int | None:
    values = decode_cursor(cursor, arity=1)
    if not values:
        return None
    if not isinstance(values[0], int):
        raise invalid_cursor()
    return values[0]


@router.get("", response_model=RulePage, summary="The organization's automation rules, newest first")
async def list_rules(cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                     rt: Runtime = Depends(get_runtime),
                     principal: Principal = Depends(require_role("viewer"))) -> RulePage:
    rows = await service.list_page(pool=rt.pool, principal=principal, after=_after(cursor), limit=limit + 1)
    items = [_rule(r) for r in rows[:limit]]
    return RulePage(items=items, next_cursor=encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
                    if len(rows) > limit else None)


@router.post("", status_code=201, response_model=Rule, summary="Create a rule (version 1)", responses=_INVALID)
async def create_rule(body: RuleIn, rt: Runtime = Depends(get_runtime),
                      principal: Principal = Depends(require_role("admin"))) -> Rule:
    return _rule(await service.create(pool=rt.pool, principal=principal, definition=body.definition()))


@router.post("/dry-run", response_model=DryRun, responses=_INVALID,
             summary="What a rule (saved or not) would have done with the newest entities; does nothing",
             description="Evaluates the rule against the newest entities of its trigger's type that sync-runner "
                         "keeps for the organization, and shows each match with the action input it would get and "
                         "why that input would be refused. No vendor is called and nothing is recorded.")
async def dry_run(body: DryRunRequest, rt: Runtime = Depends(get_runtime),
                  principal: Principal = Depends(require_role("viewer"))) -> DryRun:
    result = await service.dry_run(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner,
                                   principal=principal, definition=body.rule.definition(), limit=body.limit)
    return DryRun(evaluated=result.evaluated, matched=len(result.matches), target_enabled=result.target_enabled,
                  matches=[DryRunMatch(**vars(m)) for m in result.matches])


@router.get("/{rule_id}", response_model=Rule, summary="One rule (its current version)")
async def get_rule(rule_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                   principal: Principal = Depends(require_role("viewer"))) -> Rule:
    return _rule(await service.get(pool=rt.pool, principal=principal, rule_id=rule_id))


@router.put("/{rule_id}", response_model=Rule, summary="Change a rule (a new version)",
            responses={**_INVALID, 409: {"description": "expected_version is not the rule's version"}})
async def update_rule(rule_id: uuid.UUID, body: RuleUpdate, rt: Runtime = Depends(get_runtime),
                      principal: Principal = Depends(require_role("admin"))) -> Rule:
    return _rule(await service.update(pool=rt.pool, principal=principal, rule_id=rule_id,
                                      definition=body.definition(), expected_version=body.expected_version))


@router.delete("/{rule_id}", status_code=204, response_class=Response,
               summary="Delete a rule (a last, deleted version; its history stays readable)")
async def delete_rule(rule_id: uuid.UUID, expected_version: int | None = Query(default=None, ge=1),
                      rt: Runtime = Depends(get_runtime),
                      principal: Principal = Depends(require_role("admin"))) -> Response:
    await service.delete(pool=rt.pool, principal=principal, rule_id=rule_id, expected_version=expected_version)
    return Response(status_code=204)


@router.get("/{rule_id}/versions", response_model=RuleVersionPage, summary="A rule's versions, newest first")
async def list_versions(rule_id: uuid.UUID, cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                        rt: Runtime = Depends(get_runtime),
                        principal: Principal = Depends(require_role("viewer"))) -> RuleVersionPage:
    rows = await service.versions(pool=rt.pool, principal=principal, rule_id=rule_id, before=_before(cursor),
                                  limit=limit + 1)
    items = [RuleVersion(**{k: r[k] for k in RuleVersion.model_fields}) for r in rows[:limit]]
    return RuleVersionPage(items=items, next_cursor=encode_cursor([items[-1].version]) if len(rows) > limit else None)


@router.post("/{rule_id}/dry-run", response_model=DryRun, summary="Dry-run a saved rule; does nothing")
async def dry_run_saved(rule_id: uuid.UUID, limit: int = Query(200, ge=1, le=1000),
                        rt: Runtime = Depends(get_runtime),
                        principal: Principal = Depends(require_role("viewer"))) -> DryRun:
    row = await service.get(pool=rt.pool, principal=principal, rule_id=rule_id)
    rule = RuleIn(name=row["name"], description=row["description"], enabled=row["enabled"],
                  trigger=RuleTrigger.model_validate(row["trigger"]), action=RuleAction.model_validate(row["action"]))
    return await dry_run(DryRunRequest(rule=rule, limit=limit), rt=rt, principal=principal)


@router.get("/{rule_id}/audit", response_model=RuleAuditPage, summary="Who changed the rule or retried its executions")
async def list_audit(rule_id: uuid.UUID, cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                     rt: Runtime = Depends(get_runtime),
                     principal: Principal = Depends(require_role("viewer"))) -> RuleAuditPage:
    rows = await service.audit(pool=rt.pool, principal=principal, rule_id=rule_id, before=_before(cursor),
                               limit=limit + 1)
    items = [RuleAuditEntry(**{k: r[k] for k in RuleAuditEntry.model_fields}) for r in rows[:limit]]
    return RuleAuditPage(items=items, next_cursor=encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None)


@router.get("/{rule_id}/executions", response_model=RuleExecutionPage,
            summary="What the rule did: one execution per matched entity change, newest first")
async def list_executions(rule_id: uuid.UUID,
                          status: Literal["requested", "succeeded", "retrying", "dead"] | None = None,
                          cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                          rt: Runtime = Depends(get_runtime),
                          principal: Principal = Depends(require_role("viewer"))) -> RuleExecutionPage:
    page = await service.executions(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner,
                                    principal=principal, rule_id=rule_id, status=status, cursor=cursor, limit=limit)
    return RuleExecutionPage.model_validate(page)


@router.post("/{rule_id}/executions/{execution_id}/retry", response_model=RuleExecution, status_code=202,
             summary="Retry a dead-lettered execution (a new attempt, executed once)",
             responses={403: {"description": "The action is destructive and needs an admin"},
                        404: {"description": "No such rule or execution"},
                        409: {"description": "The execution is not dead-lettered (execution_not_dead)"}})
async def retry_execution(rule_id: uuid.UUID, execution_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                          principal: Principal = Depends(require_role("operator"))) -> RuleExecution:
    return RuleExecution.model_validate(await service.retry(
        pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner, principal=principal, rule_id=rule_id,
        execution_id=execution_id))
