"""Internal HTTP API over rule executions and recent entities (for the installer, which owns rules)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from aria_platform.auth import Principal, require_service
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.runtime import Runtime, get_runtime

from . import service

router = APIRouter(prefix="/internal/v1/orgs/{org_id}", tags=["automation rules (internal)"])
ExecutionStatus = Literal["requested", "succeeded", "retrying", "dead"]


class RuleExecution(BaseModel):
    id: uuid.UUID
    rule_id: uuid.UUID
    rule_version: int
    entity_id: uuid.UUID
    change_sha256: str
    installation_id: uuid.UUID
    action: str
    input: dict[str, Any]
    status: ExecutionStatus
    attempts: int
    run_id: uuid.UUID
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


class RecentEntity(BaseModel):
    event: dict[str, Any]
    updated_at: datetime
    from_push_integration: bool


class RecentEntities(BaseModel):
    items: list[RecentEntity]


def _execution(row) -> RuleExecution:
    return RuleExecution(**{k: row[k] for k in RuleExecution.model_fields})


@router.get("/entities", response_model=RecentEntities,
            summary="The newest entities of one type sync-runner keeps for an organization (dry-runs)")
async def recent_entities(org_id: uuid.UUID,
                          entity_type: Literal["risk", "alert", "vulnerability", "asset", "indicator"],
                          limit: int = Query(200, ge=1, le=1000), rt: Runtime = Depends(get_runtime),
                          caller: Principal = Depends(require_service("installer"))) -> RecentEntities:
    items = await service.recent_entities(pool=rt.pool, org_id=org_id, entity_type=entity_type, limit=limit)
    return RecentEntities(items=[RecentEntity(**i) for i in items])


@router.get("/rules/{rule_id}/executions", response_model=RuleExecutionPage,
            summary="A rule's executions, newest first (cursor pagination)")
async def list_executions(org_id: uuid.UUID, rule_id: uuid.UUID, status: ExecutionStatus | None = None,
                          cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                          rt: Runtime = Depends(get_runtime),
                          caller: Principal = Depends(require_service("installer"))) -> RuleExecutionPage:
    after = decode_cursor(cursor, arity=2)
    if after:
        try:
            after = (datetime.fromisoformat(after[0]), uuid.UUID(after[1]))
        except (TypeError, ValueError, AttributeError):
            raise invalid_cursor() from None
    rows = await service.executions(pool=rt.pool, org_id=org_id, rule_id=rule_id, status=status, after=after,
                                    limit=limit + 1)
    items = [_execution(r) for r in rows[:limit]]
    more = len(rows) > limit
    return RuleExecutionPage(items=items, next_cursor=encode_cursor([items[-1].created_at.isoformat(),
                                                                     str(items[-1].id)]) if more else None)


@router.get("/rules/{rule_id}/executions/{execution_id}", response_model=RuleExecution, summary="One execution")
async def get_execution(org_id: uuid.UUID, rule_id: uuid.UUID, execution_id: uuid.UUID,
                        rt: Runtime = Depends(get_runtime),
                        caller: Principal = Depends(require_service("installer"))) -> RuleExecution:
    return _execution(await service.execution(pool=rt.pool, org_id=org_id, rule_id=rule_id,
                                              execution_id=execution_id))


@router.post("/rules/{rule_id}/executions/{execution_id}/retry", response_model=RuleExecution, status_code=202,
             summary="Retry a dead-lettered execution (its next attempt is due now)",
             responses={404: {"description": "no such execution"},
                        409: {"description": "the execution is not dead-lettered"}})
async def retry_execution(org_id: uuid.UUID, rule_id: uuid.UUID, execution_id: uuid.UUID,
                          rt: Runtime = Depends(get_runtime),
                          caller: Principal = Depends(require_service("installer"))) -> RuleExecution:
    return _execution(await service.retry(pool=rt.pool, org_id=org_id, rule_id=rule_id, execution_id=execution_id))
