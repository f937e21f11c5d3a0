"""Public version history of an integration (any user role)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from ..http import INVALID_CURSOR, NOT_FOUND, NOT_MODIFIED, UNAUTHORIZED, VALIDATION, cached_json, ok_example, \
    reject_unknown_params, storable_key
from . import service

router = APIRouter(prefix="/v1/integrations/{key}/versions", tags=["catalog"], dependencies=[Depends(storable_key)])


class VersionChange(BaseModel):
    id: int
    change: Literal["added", "version_changed", "updated", "removed", "restored"] = Field(
        description="added to the catalog; version_changed (a new connector version); updated (same version, "
                    "new manifest details); removed from the registry; restored to it.")
    version: str
    previous_version: str | None = Field(description="The version before, for version_changed.")
    recorded_at: datetime


class VersionPage(BaseModel):
    items: list[VersionChange]
    next_cursor: str | None
    limit: int


@router.get(
    "", response_model=VersionPage, summary="Version history of an integration, newest first",
    description="Every change the catalog recorded from the connector registry. Keyset pagination: follow "
                "`next_cursor`. ETag / If-None-Match supported.",
    responses={200: ok_example({"items": [{"id": 7, "change": "version_changed", "version": "1.1.0",
                                           "previous_version": "1.0.0", "recorded_at": "2026-03-01T09:00:00Z"}],
                                "next_cursor": None, "limit": 20}),
               **NOT_MODIFIED,
               400: {"description": "Unknown parameter or a malformed cursor", "content": INVALID_CURSOR["content"]},
               **UNAUTHORIZED, **NOT_FOUND, **VALIDATION},
)
async def list_versions(
    request: Request, key: str,
    cursor: str | None = Query(None, max_length=1000, description="`next_cursor` of the previous page."),
    limit: int = Query(20, ge=1, le=100),
    rt: Runtime = Depends(get_runtime), caller: Principal = Depends(require_role("viewer")),
) -> Response:
    reject_unknown_params(request, {"cursor", "limit"})
    return cached_json(request, await service.history_page(pool=rt.pool, key=key, cursor=cursor, limit=limit))
