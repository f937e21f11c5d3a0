from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Query

from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from ..deps import InstallerDeps
from . import service

router = APIRouter(prefix="/v1/installations", tags=["sync jobs"])


@router.get("/{installation_id}/sync-jobs", summary="Sync jobs of the installation, newest first",
            description="Type, status, progress, record counts, times, retries, error and who triggered "
                        "each job. Cursor pagination: pass `next_cursor` back as `cursor`.")
async def list_jobs(installation_id: uuid.UUID, cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                    rt: Runtime = Depends(get_runtime),
                    principal: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    return await service.list_jobs(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner,
                                   principal=principal, installation_id=installation_id, cursor=cursor, limit=limit)


@router.post("/{installation_id}/sync-jobs/{job_id}/cancel", status_code=202,
             summary="Cancel a sync job (a running one stops at its next batch)",
             responses={404: {"description": "No such job for this installation"},
                        409: {"description": "The job already finished"}})
async def cancel_job(installation_id: uuid.UUID, job_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                     principal: Principal = Depends(require_role("operator"))) -> dict[str, Any]:
    return await service.cancel_job(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner,
                                    principal=principal, installation_id=installation_id, job_id=job_id)
