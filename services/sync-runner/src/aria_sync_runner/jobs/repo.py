"""SQL for sync jobs and checkpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

from .model import SyncJob

_COLUMNS = """id, org_id, installation_id, integration_key, request_id, sync_type, status, progress_percent,
              total_records, processed_records, failed_records, published_events, started_at, completed_at,
              retry_count, max_retries, error_class, error_message, triggered_by, config_version,
              connector_version, created_at, updated_at, priority, settings, credential_ref, claimed_by,
              cancel_requested, next_sync_at, traceparent, mappings, entity_counts"""


def _job(row: asyncpg.Record | None) -> SyncJob | None:
    return None if row is None else SyncJob.model_validate(dict(row))


async def create_job(conn: asyncpg.Connection | asyncpg.Pool, *, job_id: uuid.UUID, org_id: uuid.UUID,
                     installation_id: uuid.UUID, integration_key: str, request_id: uuid.UUID, sync_type: str,
                     triggered_by: str, max_retries: int, config_version: int | None, priority: int,
                     settings: dict[str, Any], credential_ref: str | None,
                     traceparent: str | None = None, mappings: list[dict[str, Any]] | None = None
                     ) -> SyncJob | None:
    """The new pending job, or None when a job for this request already exists."""
    return _job(await conn.fetchrow(
        f"""INSERT INTO integration_sync_jobs
               (id, org_id, installation_id, integration_key, request_id, sync_type, triggered_by, max_retries,
                config_version, priority, settings, credential_ref, traceparent, mappings)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
            ON CONFLICT (request_id) DO NOTHING
            RETURNING {_COLUMNS}""",
        job_id, org_id, installation_id, integration_key, request_id, sync_type, triggered_by, max_retries,
        config_version, priority, settings, credential_ref, traceparent, mappings))


async def job_by_request(conn: asyncpg.Connection | asyncpg.Pool, request_id: uuid.UUID) -> SyncJob | None:
    return _job(await conn.fetchrow(f"SELECT {_COLUMNS} FROM integration_sync_jobs WHERE request_id = $1",
                                    request_id))


async def get_job(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID) -> SyncJob | None:
    return _job(await conn.fetchrow(f"SELECT {_COLUMNS} FROM integration_sync_jobs WHERE id = $1", job_id))


async def has_active_job(conn: asyncpg.Connection, installation_id: uuid.UUID) -> bool:
    return await conn.fetchval(
        "SELECT true FROM integration_sync_jobs WHERE installation_id = $1 AND status IN ('pending', 'running') "
        "LIMIT 1", installation_id) is not None


CLAIM_LOCK = "aria.sync-runner.claim"


async def claim_next(conn: asyncpg.Connection, *, replica: str, lease_s: float, max_total: int,
                     max_per_vendor: int) -> tuple[SyncJob, SyncJob] | None:
    """Claim the most urgent runnable job within the concurrency limits: (job, the row before the claim).

    Call inside a transaction. Claims are serialized across replicas by an advisory lock, so
    the running counts cannot be raced past the limits; a job is runnable when it is pending
    and due, or running with an expired heartbeat (its replica is gone). One job per
    installation at a time, because checkpoints are per installation.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", CLAIM_LOCK)
    live = await conn.fetch(
        """SELECT installation_id, integration_key FROM integration_sync_jobs
           WHERE status = 'running' AND heartbeat_at >= now() - make_interval(secs => $1)""", lease_s)
    if len(live) >= max_total:
        return None
    per_vendor: dict[str, int] = {}
    for r in live:
        per_vendor[r["integration_key"]] = per_vendor.get(r["integration_key"], 0) + 1
    row = await conn.fetchrow(
        f"""SELECT {_COLUMNS} FROM integration_sync_jobs
            WHERE ((status = 'pending' AND not_before <= now())
                   OR (status = 'running' AND (heartbeat_at IS NULL
                                               OR heartbeat_at < now() - make_interval(secs => $1))))
              AND NOT installation_id = ANY($2::uuid[]) AND NOT integration_key = ANY($3::text[])
            ORDER BY priority DESC, created_at
            LIMIT 1 FOR UPDATE SKIP LOCKED""",
        lease_s, [r["installation_id"] for r in live], [k for k, n in per_vendor.items() if n >= max_per_vendor])
    if row is None:
        return None
    # Taking over a running job (its replica died) counts as a retry.
    claimed = await conn.fetchrow(
        f"""UPDATE integration_sync_jobs
            SET status = 'running', claimed_by = $2, heartbeat_at = now(), started_at = coalesce(started_at, now()),
                retry_count = retry_count + (status = 'running')::int, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""", row["id"], replica)
    return _job(claimed), _job(row)


async def heartbeat(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, *, replica: str) -> bool | None:
    """Refresh the claim; returns cancel_requested, or None when this replica no longer holds the job."""
    return await conn.fetchval(
        """UPDATE integration_sync_jobs SET heartbeat_at = now()
           WHERE id = $1 AND claimed_by = $2 AND status = 'running' RETURNING cancel_requested""", job_id, replica)


async def cancel_requested(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, *, replica: str) -> bool | None:
    """Whether the job was asked to stop; None when this replica no longer holds it."""
    return await conn.fetchval(
        """SELECT cancel_requested FROM integration_sync_jobs
           WHERE id = $1 AND claimed_by = $2 AND status = 'running'""", job_id, replica)


async def set_connector_version(conn: asyncpg.Connection, job_id: uuid.UUID, version: str) -> None:
    await conn.execute("UPDATE integration_sync_jobs SET connector_version = $2 WHERE id = $1", job_id, version)


async def release_for_retry(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, *, replica: str,
                            error_class: str, error_message: str, delay_s: float) -> bool:
    """Back to the queue after a transient failure; any replica resumes it from the checkpoint after delay_s."""
    return await conn.fetchval(
        """UPDATE integration_sync_jobs
           SET status = 'pending', claimed_by = NULL, heartbeat_at = NULL, retry_count = retry_count + 1,
               not_before = now() + make_interval(secs => $3), error_class = $4, error_message = $5,
               updated_at = now()
           WHERE id = $1 AND claimed_by = $2 AND status = 'running' RETURNING true""",
        job_id, replica, delay_s, error_class, error_message) is not None


async def add_progress(conn: asyncpg.Connection | asyncpg.Pool, job_id: uuid.UUID, *, replica: str, processed: int,
                       failed: int, published: int, progress: dict[str, float],
                       streams: int, entities: dict[str, int] | None = None) -> asyncpg.Record | None:
    """Counts after a batch (``entities``: events published per entity type, added to the job's),
    and the share read of the streams in ``progress`` (0..1 each; the job's percentage is their
    sum over ``streams``, below 100 until it completes). None when this replica lost the job (the
    caller must stop). Streams that run in different processes each add their own counts and shares."""
    return await conn.fetchrow(
        """UPDATE integration_sync_jobs
           SET processed_records = processed_records + $3, failed_records = failed_records + $4,
               published_events = published_events + $5, stream_progress = stream_progress || $6::jsonb,
               entity_counts = (SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
                                FROM (SELECT key, sum(value::bigint) AS total
                                      FROM (SELECT * FROM jsonb_each_text(entity_counts)
                                            UNION ALL SELECT * FROM jsonb_each_text($8::jsonb)) AS both_counts
                                      GROUP BY key) AS summed),
               progress_percent = greatest(progress_percent, least(99, (
                   SELECT floor(100 * coalesce(sum(value::float8), 0) / $7)::int
                   FROM jsonb_each_text(stream_progress || $6::jsonb)))),
               heartbeat_at = now(), updated_at = now()
           WHERE id = $1 AND claimed_by = $2 AND status = 'running'
           RETURNING processed_records, failed_records, published_events, cancel_requested""",
        job_id, replica, processed, failed, published, progress, max(1, streams), entities or {})


async def complete(conn: asyncpg.Connection, job_id: uuid.UUID, *, replica: str) -> SyncJob | None:
    return _job(await conn.fetchrow(
        f"""UPDATE integration_sync_jobs j
            SET status = 'completed', progress_percent = 100, total_records = processed_records,
                completed_at = now(), error_class = NULL, error_message = NULL, claimed_by = NULL, updated_at = now(),
                next_sync_at = (SELECT s.next_run_at FROM sync_schedules s
                                WHERE s.installation_id = j.installation_id AND s.enabled AND s.frequency <> 'manual')
            WHERE id = $1 AND claimed_by = $2 AND status = 'running' RETURNING {_COLUMNS}""", job_id, replica))


async def finish(conn: asyncpg.Connection, job_id: uuid.UUID, *, status: str, replica: str | None,
                 error_class: str | None, error_message: str | None) -> SyncJob | None:
    """failed or cancelled. replica None: the job is not claimed (cancel of a pending job)."""
    return _job(await conn.fetchrow(
        f"""UPDATE integration_sync_jobs
            SET status = $2, completed_at = now(), error_class = $4, error_message = $5, claimed_by = NULL,
                updated_at = now()
            WHERE id = $1 AND status IN ('pending', 'running') AND claimed_by IS NOT DISTINCT FROM $3
            RETURNING {_COLUMNS}""", job_id, status, replica, error_class, error_message))


async def request_cancel(conn: asyncpg.Connection, job_id: uuid.UUID) -> SyncJob | None:
    """Flag a job for cancellation (the runner stops at the next batch boundary); the job row, locked."""
    return _job(await conn.fetchrow(
        f"""UPDATE integration_sync_jobs SET cancel_requested = true, updated_at = now()
            WHERE id = $1 RETURNING {_COLUMNS}""", job_id))


async def cancel_active_jobs(conn: asyncpg.Connection, installation_id: uuid.UUID) -> list[SyncJob]:
    """Pending jobs of the installation become cancelled now, running ones at their next batch; the pending ones."""
    await conn.execute(
        """UPDATE integration_sync_jobs SET cancel_requested = true, updated_at = now()
           WHERE installation_id = $1 AND status = 'running'""", installation_id)
    rows = await conn.fetch(
        f"""UPDATE integration_sync_jobs SET status = 'cancelled', cancel_requested = true, completed_at = now(),
                   updated_at = now()
            WHERE installation_id = $1 AND status = 'pending'
            RETURNING {_COLUMNS}""", installation_id)
    return [SyncJob.model_validate(dict(r)) for r in rows]


async def list_jobs(conn: asyncpg.Pool, installation_id: uuid.UUID, *, limit: int,
                    before: tuple[datetime, uuid.UUID] | None) -> list[SyncJob]:
    """Newest first; `before` is the (created_at, id) of the last row of the previous page."""
    if before is None:
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM integration_sync_jobs WHERE installation_id = $1
                ORDER BY created_at DESC, id DESC LIMIT $2""", installation_id, limit)
    else:
        rows = await conn.fetch(
            f"""SELECT {_COLUMNS} FROM integration_sync_jobs
                WHERE installation_id = $1 AND (created_at, id) < ($3, $4)
                ORDER BY created_at DESC, id DESC LIMIT $2""", installation_id, limit, before[0], before[1])
    return [SyncJob.model_validate(dict(r)) for r in rows]


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


async def release_replica(conn: asyncpg.Connection | asyncpg.Pool, replica: str) -> int:
    """Graceful stop: this replica's running jobs go back to the queue, to be resumed elsewhere now."""
    result = await conn.execute(
        """UPDATE integration_sync_jobs SET status = 'pending', claimed_by = NULL, heartbeat_at = NULL,
                  not_before = now(), updated_at = now()
           WHERE claimed_by = $1 AND status = 'running'""", replica)
    return int(result.split()[-1])
