"""Internal HTTP API over sync jobs (for installer)."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from aria_platform.auth import Principal, require_service
from aria_platform.pagination import decode_cursor, encode_cursor
from aria_platform.problems import Problem
from aria_platform.runtime import Runtime, get_runtime

from . import service
from .model import SyncJobSummary

router = APIRouter(prefix="/internal/v1", tags=["sync jobs (internal)"])


class SyncJobPage(BaseModel):
    items: list[SyncJobSummary]
    next_cursor: str | None


def _encode(cursor: tuple[datetime, uuid.UUID] | None) -> str | None:
    return encode_cursor([cursor[0].isoformat(), str(cursor[1])]) if cursor else None


def _decode(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    values = decode_cursor(cursor, arity=2)
    if values is None:
        return None
    try:
        return datetime.fromisoformat(values[0]), uuid.UUID(values[1])
    except (TypeError, ValueError, AttributeError):  # uuid.UUID(7) is an AttributeError
        raise Problem(400, "invalid_cursor", "Invalid cursor", "use the next_cursor value of a previous page") from None


@router.get("/installations/{installation_id}/sync-jobs", response_model=SyncJobPage,
            summary="Sync jobs of an installation, newest first (cursor pagination)")
async def list_jobs(installation_id: uuid.UUID, limit: int = Query(50, ge=1, le=200), cursor: str | None = None,
                    rt: Runtime = Depends(get_runtime),
                    caller: Principal = Depends(require_service("installer"))) -> SyncJobPage:
    items, nxt = await service.list_jobs(pool=rt.pool, installation_id=installation_id, limit=limit,
                                         cursor=_decode(cursor))
    return SyncJobPage(items=[SyncJobSummary.model_validate(i) for i in items], next_cursor=_encode(nxt))


@router.get("/sync-jobs/{job_id}", response_model=SyncJobSummary, summary="One sync job")
async def get_job(job_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                  caller: Principal = Depends(require_service("installer"))) -> SyncJobSummary:
    return SyncJobSummary.model_validate(await service.get_job(pool=rt.pool, job_id=job_id))


@router.post("/sync-jobs/{job_id}/cancel", response_model=SyncJobSummary, status_code=202,
             summary="Cancel a job: a pending one now, a running one at its next batch boundary",
             responses={404: {"description": "no such job"}, 409: {"description": "the job already finished"}})
async def cancel_job(job_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                     caller: Principal = Depends(require_service("installer"))) -> SyncJobSummary:
    return SyncJobSummary.model_validate(await service.cancel_job(pool=rt.pool, job_id=job_id,
                                                              requested_by=caller.subject))
