"""An installation's sync jobs, as sync-runner (which owns them) reports them; cancelling one."""

from __future__ import annotations

import uuid

import asyncpg

from aria_platform.auth import Principal
from aria_platform.internal import InternalClient
from aria_platform.problems import Problem, not_found

from ..activity import repo as activity
from ..installations.service import load_installation


async def _check_installation(pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID) -> None:
    async with pool.acquire() as conn:
        await load_installation(conn, principal=principal, installation_id=installation_id)


def _relay_problem(response) -> Problem:
    body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
    return Problem(response.status_code, body.get("code", f"http_{response.status_code}"),
                   body.get("title", "Sync job request refused"), body.get("detail"))


async def list_jobs(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                    installation_id: uuid.UUID, cursor: str | None, limit: int) -> dict:
    await _check_installation(pool, principal, installation_id)
    params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
    response = await sync_runner.request("GET", f"/internal/v1/installations/{installation_id}/sync-jobs",
                                         params=params)
    if response.status_code != 200:
        raise _relay_problem(response)
    return response.json()


async def cancel_job(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                     installation_id: uuid.UUID, job_id: uuid.UUID) -> dict:
    await _check_installation(pool, principal, installation_id)
    job = await sync_runner.request("GET", f"/internal/v1/sync-jobs/{job_id}")
    # A job of another installation (or organization) reads as missing.
    if job.status_code == 404 or (job.status_code == 200 and job.json()["installation_id"] != str(installation_id)):
        raise not_found("sync job")
    if job.status_code != 200:
        raise _relay_problem(job)
    response = await sync_runner.request("POST", f"/internal/v1/sync-jobs/{job_id}/cancel")
    if response.status_code != 202:
        raise _relay_problem(response)
    async with pool.acquire() as conn:
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="sync",
                           status="info", actor=principal.subject, message="sync job cancelled",
                           details={"job_id": str(job_id)})
    return response.json()
