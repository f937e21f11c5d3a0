"""Public API of on-demand push actions: list an installation's actions, run one, read the runs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.runtime import Runtime, get_runtime

from . import service
from .inputs import ActionInput

router = APIRouter(prefix="/v1/installations", tags=["actions"])
RunStatus = Literal["pending", "succeeded", "failed", "unknown"]


class Action(BaseModel):
    name: str
    kind: Literal["send_event", "create_ticket", "update_ticket", "add_comment", "update_status", "isolate_host",
                  "release_host"]
    description: str | None
    input_type: str = Field(description="The contract entity type the action acts on, or 'ticket'.")
    destructive: bool = Field(description="Changes what the vendor protects or closes (isolate a host, close an "
                                          "alert): only admins may run it.")
    min_role: Literal["operator", "admin"] = Field(description="The least role that may run it.")
    input_schema: dict[str, Any] = Field(description="JSON Schema (2020-12) of the body a run takes.")


class ActionList(BaseModel):
    items: list[Action]


class ActionRun(BaseModel):
    id: uuid.UUID
    installation_id: uuid.UUID
    action: str
    kind: str
    destructive: bool
    input: dict[str, Any] = Field(description="What the run was asked with (never a secret: actions take none).")
    status: RunStatus = Field(description="pending until sync-runner reports; unknown: the request may have reached "
                                          "a vendor that cannot de-duplicate it, so it was not re-sent.")
    requested_by: str
    vendor_id: str | None = Field(description="The vendor's id of what the action made or changed.")
    vendor_url: str | None
    vendor_status: Literal["sent", "created", "updated", "duplicate"] | None = Field(
        description="duplicate: an object made earlier for the same entity was found, none was made.")
    error_class: str | None = Field(description="authentication, permission, rate_limited, transient, permanent, "
                                                "configuration or internal.")
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class ActionRunPage(BaseModel):
    items: list[ActionRun]
    next_cursor: str | None


def _run(row) -> ActionRun:
    return ActionRun(**{k: row[k] for k in ActionRun.model_fields})


@router.get("/{installation_id}/actions", response_model=ActionList,
            summary="Push actions the installation's connector offers, with their input schema and role")
async def list_actions(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                       principal: Principal = Depends(require_role("viewer"))) -> ActionList:
    infos = await service.list_actions(pool=rt.pool, principal=principal, installation_id=installation_id)
    return ActionList(items=[Action(**vars(i)) for i in infos])


@router.post("/{installation_id}/actions/{action}/runs", status_code=202, response_model=ActionRun,
             summary="Run a push action (executed once by sync-runner; poll the run for its outcome)",
             description="Operators may run non-destructive actions, destructive ones need an admin (403 "
                         "insufficient_role). The body follows the action's `input_schema` (422 "
                         "action_input_invalid). A retry with the same `Idempotency-Key` returns the same run "
                         "(200) and never reaches the vendor again; the same key with another request is 422 "
                         "idempotency_key_reused. The installation must be enabled (409 otherwise).",
             responses={200: {"description": "A retry: the run this Idempotency-Key started"},
                        403: {"description": "The action needs a higher role"},
                        404: {"description": "No such installation or action"},
                        409: {"description": "The installation is not enabled"},
                        422: {"description": "Invalid input or a reused Idempotency-Key"}})
async def run_action(installation_id: uuid.UUID, body: ActionInput, response: Response,
                     action: str = Path(pattern=r"^[a-z][a-z0-9_]*$", max_length=100),
                     idempotency_key: str = Header(min_length=1, max_length=200,
                                                   description="Client-chosen key; a retry sends the same one."),
                     rt: Runtime = Depends(get_runtime),
                     principal: Principal = Depends(require_role("operator"))) -> ActionRun:
    row, created = await service.run(pool=rt.pool, principal=principal, installation_id=installation_id,
                                     action=action, body=body, idempotency_key=idempotency_key)
    if not created:
        response.status_code = 200
    return _run(row)


@router.get("/{installation_id}/action-runs", response_model=ActionRunPage,
            summary="Action runs of the installation, newest first")
async def list_runs(installation_id: uuid.UUID, action: str | None = Query(default=None, max_length=100),
                    cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                    rt: Runtime = Depends(get_runtime),
                    principal: Principal = Depends(require_role("viewer"))) -> ActionRunPage:
    after = decode_cursor(cursor, arity=2)
    if after:
        try:
            after = (datetime.fromisoformat(after[0]), uuid.UUID(after[1]))
        except (TypeError, ValueError, AttributeError):
            raise invalid_cursor() from None
    rows = await service.list_runs(pool=rt.pool, principal=principal, installation_id=installation_id,
                                   action=action, after=after, limit=limit + 1)
    items = [_run(r) for r in rows[:limit]]
    more = len(rows) > limit
    return ActionRunPage(items=items, next_cursor=encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
                         if more else None)


@router.get("/{installation_id}/action-runs/{run_id}", response_model=ActionRun, summary="One action run")
async def get_run(installation_id: uuid.UUID, run_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                  principal: Principal = Depends(require_role("viewer"))) -> ActionRun:
    return _run(await service.get_run(pool=rt.pool, principal=principal, installation_id=installation_id,
                                      run_id=run_id))
