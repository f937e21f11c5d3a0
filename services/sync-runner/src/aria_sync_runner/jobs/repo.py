"""SQL for sync jobs and checkpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

_COLUMNS = """id, org_id, installation_id, integration_key, request_id, sync_type, status, progress_percent,
              total_records, processed_records, failed_records, published_events, started_at, completed_at,
              retry_count, max_retries, error_class, error_message, triggered_by, config_version,
              connector_version, created_at, updated_at"""


async def create_job(conn: asyncpg.Connection | asyncpg.Pool, *, job_id: uuid.UUID, org_id: uuid.UUID,
                     installation_id: uuid.UUID, integration_key: str, request_id: uuid.UUID, sync_type: str,
                     triggered_by: str, max_retries: int, config_version: int | None) -> asyncpg.Record | None:
    """The new job, or None when a job for this request already exists."""
    return await conn.fetchrow(
        f"""INSERT INTO integration_sync_jobs
               (id, org_id, installation_id, integration_key, request_id, sync_type, triggered_by, max_retries,
                config_version)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (request_id) DO NOTHING
            RETURNING {_COLUMNS}""",
        job_id, org_id, installation_id, integration_key, request_id, sync_type, triggered_by, max_retries,
        config_version)


async def job_by_request(conn: asyncpg.Connection | asyncpg.Pool, request_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM integration_sync_jobs WHERE request_id = $1", request_id)


async def get_job(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM integration_sync_jobs WHERE id = $1", job_id)


async def mark_running(conn: asyncpg.Connection, job_id: uuid.UUID, *, connector_version: str | None) -> None:
    await conn.execute(
        """UPDATE integration_sync_jobs
           SET status = 'running', started_at = coalesce(started_at, now()), connector_version = $2,
               updated_at = now()
           WHERE id = $1""", job_id, connector_version)


async def take_over(conn: asyncpg.Connection, job_id: uuid.UUID) -> bool:
    """Resume a job left pending/running by a worker that is gone (redelivered request)."""
    return await conn.fetchval(
        """UPDATE integration_sync_jobs SET retry_count = retry_count + 1, updated_at = now()
           WHERE id = $1 AND status IN ('pending', 'running') RETURNING true""", job_id) is not None


async def record_retry(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, *, error_class: str,
                       error_message: str) -> None:
    await conn.execute(
        """UPDATE integration_sync_jobs SET retry_count = retry_count + 1, error_class = $2, error_message = $3,
                  updated_at = now()
           WHERE id = $1""", job_id, error_class, error_message)


async def add_progress(conn: asyncpg.Connection, job_id: uuid.UUID, *, processed: int, failed: int,
                       published: int) -> asyncpg.Record:
    return await conn.fetchrow(
        """UPDATE integration_sync_jobs
           SET processed_records = processed_records + $2, failed_records = failed_records + $3,
               published_events = published_events + $4, updated_at = now()
           WHERE id = $1
           RETURNING processed_records, failed_records, published_events""",
        job_id, processed, failed, published)


async def complete(conn: asyncpg.Connection, job_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE integration_sync_jobs
            SET status = 'completed', progress_percent = 100, total_records = processed_records,
                completed_at = now(), error_class = NULL, error_message = NULL, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""", job_id)


async def fail(conn: asyncpg.Connection, job_id: uuid.UUID, *, error_class: str, error_message: str) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE integration_sync_jobs
            SET status = 'failed', completed_at = now(), error_class = $2, error_message = $3, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""", job_id, error_class, error_message)


async def list_jobs(conn: asyncpg.Pool, installation_id: uuid.UUID, *, limit: int,
                    before: tuple[datetime, uuid.UUID] | None) -> list[asyncpg.Record]:
    """Newest first; `before` is the (created_at, id) of the last row of the previous page."""
    if before is None:
        return await conn.fetch(
            f"""SELECT {_COLUMNS} FROM integration_sync_jobs WHERE installation_id = $1
                ORDER BY created_at DESC, id DESC LIMIT $2""", installation_id, limit)
    return await conn.fetch(
        f"""SELECT {_COLUMNS} FROM integration_sync_jobs
            WHERE installation_id = $1 AND (created_at, id) < ($3, $4)
            ORDER BY created_at DESC, id DESC LIMIT $2""", installation_id, limit, before[0], before[1])


async def checkpoints(conn: asyncpg.Connection | asyncpg.Pool, installation_id: uuid.UUID) -> dict[str, Any]:
    rows = await conn.fetch("SELECT stream, state FROM sync_checkpoints WHERE installation_id = $1",
                            installation_id)
    return {r["stream"]: r["state"] for r in rows}


async def save_checkpoint(conn: asyncpg.Connection, *, installation_id: uuid.UUID, stream: str, state: Any,
                          job_id: uuid.UUID) -> None:
    await conn.execute(
        """INSERT INTO sync_checkpoints (installation_id, stream, state, job_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (installation_id, stream) DO UPDATE
              SET state = EXCLUDED.state, job_id = EXCLUDED.job_id, updated_at = now()""",
        installation_id, stream, state, job_id)
