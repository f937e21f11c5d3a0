from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from aria_platform.auth import Principal, require_role
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.runtime import Runtime, get_runtime

from . import service

router = APIRouter(prefix="/v1/installations", tags=["activity"])


class Activity(BaseModel):
    id: int
    activity_type: str
    status: str
    actor: str
    message: str
    details: dict[str, Any]
    created_at: datetime


class ActivityPage(BaseModel):
    items: list[Activity]
    next_cursor: str | None


@router.get("/{installation_id}/activity", response_model=ActivityPage,
            summary="Activity log: configuration and state changes, tests, syncs, errors (newest first)")
async def activity(installation_id: uuid.UUID,
                   type: Literal["install", "configure", "state_change", "test", "preview", "sync", "sync_result",
                                 "sync_settings", "mapping", "webhook", "action", "action_result", "uninstall"] | None = None,
                   status: Literal["success", "failure", "info"] | None = None,
                   since: datetime | None = None, until: datetime | None = None, cursor: str | None = None,
                   limit: int = Query(50, ge=1, le=200), rt: Runtime = Depends(get_runtime),
                   principal: Principal = Depends(require_role("viewer"))) -> ActivityPage:
    before = decode_cursor(cursor, arity=1)
    if before and not isinstance(before[0], int):
        raise invalid_cursor()
    rows = await service.page(pool=rt.pool, principal=principal, installation_id=installation_id, activity_type=type,
                              status=status, since=since, until=until, before_id=before[0] if before else None,
                              limit=limit + 1)
    items = [Activity(**dict(r)) for r in rows[:limit]]
    return ActivityPage(items=items, next_cursor=encode_cursor([items[-1].id]) if len(rows) > limit else None)
