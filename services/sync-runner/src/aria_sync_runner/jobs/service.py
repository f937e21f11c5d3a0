"""Run a sync job: lease → connector → publish entity batches → checkpoint → outcome event.

Delivery guarantees:
* one job per request_id (a redelivered request does not run again; a request whose job was
  left pending/running by a worker that died is resumed from its checkpoints);
* every state change of the job commits with the event announcing it (outbox);
* entity batches are published with acks=all *before* the checkpoint that covers them is
  saved, so a crash republishes rather than loses (at least once). Entity ids and dedup keys
  are deterministic, so a republish updates instead of duplicating.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx
import structlog
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from aria_contracts import Envelope
from aria_contracts.events import SyncCompleted, SyncFailed, SyncProgress, SyncStarted
from aria_platform import kafka
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import not_found

from ..connectors import RunError, classify, lease_secrets, open_instance, plugin_for
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "sync-runner"
WHOLE_CHECKPOINT = "*"  # stream name under which a checkpoint without per-stream parts is kept


async def run_sync(*, pool: asyncpg.Pool, broker: KafkaBroker, outbound: httpx.AsyncClient,
                   vault_gateway: InternalClient, active_jobs: set[uuid.UUID], max_retries: int,
                   retry_backoff_s: float, request_id: uuid.UUID, org_id: uuid.UUID, installation_id: uuid.UUID,
                   integration_key: str, sync_type: str, requested_by: str, settings: dict[str, Any],
                   credential_ref: str | None, config_version: int | None) -> uuid.UUID | None:
    """Run the sync a request asks for; returns the job id (None when another worker has it)."""
    job = await repo.create_job(pool, job_id=uuid.uuid4(), org_id=org_id, installation_id=installation_id,
                                integration_key=integration_key, request_id=request_id, sync_type=sync_type,
                                triggered_by=requested_by, max_retries=max_retries, config_version=config_version)
    if job is None:
        existing = await repo.job_by_request(pool, request_id)
        if existing["status"] not in ("pending", "running") or existing["id"] in active_jobs:
            log.info("sync request already handled", request_id=str(request_id), job_id=str(existing["id"]),
                     status=existing["status"])
            return existing["id"]
        async with pool.acquire() as conn:
            if not await repo.take_over(conn, existing["id"]):
                return existing["id"]
        log.warning("resuming sync job left unfinished", job_id=str(existing["id"]))
        job = existing

    job_id = job["id"]
    active_jobs.add(job_id)
    bound = log.bind(job_id=str(job_id), installation_id=str(installation_id), integration_key=integration_key)
    base = dict(installation_id=installation_id, org_id=org_id, integration_key=integration_key)
    try:
        try:
            plugin = plugin_for(integration_key)
        except RunError as exc:
            await _finish_failed(pool, job_id, base, exc.error_class, exc.message)
            return job_id
        async with pool.acquire() as conn, conn.transaction():
            await repo.mark_running(conn, job_id, connector_version=plugin.manifest.version)
            await enqueue(conn, _wrap(SyncStarted(**base, job_id=job_id, sync_type=sync_type), org_id, installation_id))
        bound.info("sync started", sync_type=sync_type)
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                await _sync_once(pool=pool, broker=broker, outbound=outbound, vault_gateway=vault_gateway,
                                 plugin=plugin, job_id=job_id, base=base, sync_type=sync_type, settings=settings,
                                 credential_ref=credential_ref)
                break
            except asyncio.CancelledError:
                raise  # shutting down: the job stays running and is resumed on redelivery
            except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
                if isinstance(exc, KafkaError):
                    exc = RunError("transient", f"publishing to Kafka failed ({type(exc).__name__})")
                error_class, message = classify(exc)
                if error_class == "internal":
                    bound.exception("sync failed unexpectedly")
                if error_class == "transient" and attempt < max_retries:
                    attempt += 1
                    bound.warning("sync attempt failed; retrying from the checkpoint", attempt=attempt,
                                  error_class=error_class, error=message)
                    await repo.record_retry(pool, job_id, error_class=error_class, error_message=message)
                    await asyncio.sleep(retry_backoff_s * 2 ** (attempt - 1))
                    continue
                bound.warning("sync failed", error_class=error_class, error=message)
                await _finish_failed(pool, job_id, base, error_class, message)
                return job_id
        async with pool.acquire() as conn, conn.transaction():
            done = await repo.complete(conn, job_id)
            await enqueue(conn, _wrap(SyncCompleted(
                **base, job_id=job_id, processed_records=done["processed_records"],
                published_events=done["published_events"], failed_records=done["failed_records"],
                duration_ms=int((time.monotonic() - started) * 1000)), org_id, installation_id))
        bound.info("sync completed", processed=done["processed_records"], published=done["published_events"],
                   failed=done["failed_records"])
        return job_id
    finally:
        active_jobs.discard(job_id)


async def _sync_once(*, pool: asyncpg.Pool, broker: KafkaBroker, outbound: httpx.AsyncClient,
                     vault_gateway: InternalClient, plugin, job_id: uuid.UUID, base: dict, sync_type: str,
                     settings: dict[str, Any], credential_ref: str | None) -> None:
    org_id, installation_id = base["org_id"], base["installation_id"]
    secrets = await lease_secrets(vault_gateway, credential_ref=credential_ref, installation_id=installation_id)
    try:
        instance = open_instance(plugin, org_id=org_id, installation_id=installation_id,
                                 integration_key=base["integration_key"], settings=settings, secrets=secrets,
                                 http=outbound)
    finally:
        secrets = {}
    try:
        checkpoint = None if sync_type == "full" else _join(await repo.checkpoints(pool, installation_id))
        async for batch in instance.sync(checkpoint, job_id):
            envelopes: list[Envelope] = []
            failed = len(batch.record_errors)
            for entity in batch.events:
                if entity.org_id != org_id:  # a connector must never emit into another tenant
                    failed += 1
                    log.error("entity of another organization dropped", job_id=str(job_id), stream=batch.stream)
                    continue
                envelopes.append(traced(entity, source=SOURCE, org_id=org_id, installation_id=installation_id))
            for err in batch.record_errors:
                log.warning("record skipped", job_id=str(job_id), stream=err.stream, external_id=err.external_id,
                            reason=err.reason)
            if envelopes:
                await kafka.publish_batch(broker, envelopes)  # acks=all: durable before the checkpoint moves
            async with pool.acquire() as conn, conn.transaction():
                for stream, state in _split(batch.checkpoint).items():
                    await repo.save_checkpoint(conn, installation_id=installation_id, stream=stream, state=state,
                                               job_id=job_id)
                counts = await repo.add_progress(conn, job_id, processed=len(batch.events) + len(batch.record_errors),
                                                 failed=failed, published=len(envelopes))
                await enqueue(conn, _wrap(SyncProgress(
                    **base, job_id=job_id, stream=batch.stream, processed_records=counts["processed_records"],
                    failed_records=counts["failed_records"]), org_id, installation_id))
    finally:
        await instance.close()


async def _finish_failed(pool: asyncpg.Pool, job_id: uuid.UUID, base: dict, error_class: str, message: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await repo.fail(conn, job_id, error_class=error_class, error_message=message)
        await enqueue(conn, _wrap(SyncFailed(**base, job_id=job_id, error_class=error_class, error_message=message),
                                  base["org_id"], base["installation_id"]))


def _wrap(payload, org_id: uuid.UUID, installation_id: uuid.UUID) -> Envelope:
    return traced(payload, source=SOURCE, org_id=org_id, installation_id=installation_id)


def _split(checkpoint: Any) -> dict[str, Any]:
    """Per-stream parts of a connector checkpoint ({"streams": {name: state}}), else the whole."""
    streams = checkpoint.get("streams") if isinstance(checkpoint, dict) else None
    if isinstance(streams, dict):
        return dict(streams)
    return {WHOLE_CHECKPOINT: checkpoint}


def _join(rows: dict[str, Any]) -> dict[str, Any] | None:
    if not rows:
        return None
    if WHOLE_CHECKPOINT in rows:
        return rows[WHOLE_CHECKPOINT]
    return {"version": 1, "streams": rows}


# -- reads ----------------------------------------------------------------------------------


async def get_job(*, pool: asyncpg.Pool, job_id: uuid.UUID) -> dict:
    row = await repo.get_job(pool, job_id)
    if row is None:
        raise not_found("sync job")
    return dict(row)


async def list_jobs(*, pool: asyncpg.Pool, installation_id: uuid.UUID, limit: int,
                    cursor: tuple | None) -> tuple[list[dict], tuple | None]:
    rows = await repo.list_jobs(pool, installation_id, limit=limit + 1, before=cursor)
    page = [dict(r) for r in rows[:limit]]
    more = len(rows) > limit
    return page, ((page[-1]["created_at"], page[-1]["id"]) if more else None)
