"""Sync jobs: accept a request → a replica claims the job → lease → connector → publish → checkpoint → outcome.

Jobs are a queue in Postgres (see docs/architecture.md, "sync-runner: one job, one replica"):
* a request (Kafka) or a due schedule creates a pending job; request_id is unique, so a
  redelivered request never makes a second job;
* every replica's worker claims runnable jobs under an advisory lock that also enforces the
  concurrency limits; the claim sets claimed_by and a heartbeat the runner keeps fresh;
* every write of the runner is fenced by claimed_by: a replica that lost its job (its heartbeat
  expired and another replica took over) cannot move the checkpoint or finish the job;
* entity batches are published with acks=all *before* the checkpoint that covers them is saved,
  so a crash republishes rather than loses (at least once); entity ids and dedup keys are
  deterministic, so a republish updates instead of duplicating;
* every state change of the job commits with the event announcing it (outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import structlog
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker
from opentelemetry import context, propagate, trace

from aria_connectors.sdk.data_mappings import MappingSet
from aria_contracts import Envelope
from aria_contracts.events import (
    DeadLetter,
    SyncCancelled,
    SyncCompleted,
    SyncFailed,
    SyncProgress,
    SyncStarted,
)
from aria_platform import kafka
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem, not_found

from ..connectors import RunError, classify, lease_secrets, open_instance, plugin_for, vendor_client
from ..health import service as health
from ..schedules import repo as schedules
from ..settings import SyncRunnerSettings
from . import repo
from .model import SyncJob

if TYPE_CHECKING:
    from .workers import StreamWorkers

log = structlog.get_logger(__name__)
SOURCE = "sync-runner"
WHOLE_CHECKPOINT = "*"  # stream name under which a checkpoint without per-stream parts is kept
PRIORITY_REQUESTED = 10  # sync-now and other explicit requests jump ahead of scheduled syncs
PRIORITY_SCHEDULED = 0
STOP_GRACE_S = 10.0  # how long the other streams of a job get to reach a batch boundary once one ended


@dataclass(frozen=True)
class Deps:
    """What running a job needs from the process."""

    pool: asyncpg.Pool
    broker: KafkaBroker
    outbound: httpx.AsyncClient
    vault_gateway: InternalClient
    settings: SyncRunnerSettings
    replica: str
    # Processes that run a job's other streams while this one runs its first; None: all here.
    stream_workers: StreamWorkers | None = None


class JobCancelled(Exception):
    pass


class LeaseLost(Exception):
    pass


async def accept_request(*, pool: asyncpg.Pool, max_retries: int, request_id: uuid.UUID, org_id: uuid.UUID,
                         installation_id: uuid.UUID, integration_key: str, sync_type: str, requested_by: str,
                         settings: dict[str, Any], credential_ref: str | None,
                         config_version: int | None, requested_at: datetime | None = None,
                         max_age_s: float | None = None,
                         mappings: list[dict[str, Any]] | None = None) -> uuid.UUID | None:
    """Queue the job a request asks for; a redelivered request returns the job it already made.

    A request older than `max_age_s` is skipped (None): a new consumer group starts from the
    oldest retained request, and the schedule has long since covered what it asked for.
    """
    if requested_at is not None and max_age_s and (datetime.now(timezone.utc) - requested_at).total_seconds() > max_age_s:
        log.warning("stale sync request skipped", request_id=str(request_id), installation_id=str(installation_id),
                    requested_at=requested_at.isoformat())
        return None
    job = await repo.create_job(pool, job_id=uuid.uuid4(), org_id=org_id, installation_id=installation_id,
                                integration_key=integration_key, request_id=request_id, sync_type=sync_type,
                                triggered_by=requested_by, max_retries=max_retries, config_version=config_version,
                                priority=PRIORITY_REQUESTED, settings=settings, credential_ref=credential_ref,
                                traceparent=kafka.current_trace_headers().get("traceparent"), mappings=mappings)
    if job is None:
        existing = await repo.job_by_request(pool, request_id)
        log.info("sync request already queued", request_id=str(request_id), job_id=str(existing.id),
                 status=existing.status)
        return existing.id
    log.info("sync queued", job_id=str(job.id), installation_id=str(installation_id), sync_type=sync_type)
    return job.id


async def claim_job(*, pool: asyncpg.Pool, settings: SyncRunnerSettings, replica: str) -> SyncJob | None:
    """Claim the next runnable job for this replica (announcing its start the first time).

    Taking over a job whose replica stopped counts as a retry; a job that has used up its retries
    that way (it takes its replica down, or its replica cannot record its outcome) fails here
    instead of running again, and the next job is claimed."""
    while True:
        async with pool.acquire() as conn, conn.transaction():
            claimed = await repo.claim_next(conn, replica=replica, lease_s=settings.job_lease_s,
                                            max_total=settings.max_concurrent_jobs,
                                            max_per_vendor=settings.max_concurrent_jobs_per_vendor)
            if claimed is None:
                return None
            job, before = claimed
            if before.status == "running" and job.retry_count > job.max_retries:
                last = f"; last error: {before.error_message}" if before.error_message else ""
                message = (f"gave up after {job.retry_count} attempts: the sync stopped before finishing "
                           f"each time (its replica crashed, was killed or lost its database){last}")
                log.error("sync job failed: retries used up by replicas that stopped", job_id=str(job.id),
                          retry_count=job.retry_count, max_retries=job.max_retries)
                with _in_trace(job, "sync job failed"):
                    await _record_failure(conn, job, replica=replica,
                                          error_class=before.error_class or "internal", message=message)
                continue
            if before.status == "running":
                log.warning("resuming sync job of a replica that is gone", job_id=str(job.id), replica=replica)
            if before.started_at is None:
                with _in_trace(job, "sync job claimed"):
                    await enqueue(conn, _wrap(SyncStarted(**_base(job), job_id=job.id, sync_type=job.sync_type), job))
            return job


async def run_job(*, deps: Deps, job: SyncJob) -> str:
    """Run a claimed job to its next state; returns that state (completed, failed, cancelled, pending, lost).
    Runs in the trace of the request that asked for it (a scheduled job starts its own)."""
    with _in_trace(job, "sync job"):
        return await _run_job(deps=deps, job=job)


@contextlib.contextmanager
def _in_trace(job: SyncJob, name: str):
    carrier = {"traceparent": job.traceparent} if job.traceparent else {}
    token = context.attach(propagate.extract(carrier))
    try:
        with trace.get_tracer(__name__).start_as_current_span(name, attributes={"job_id": str(job.id)}):
            yield
    finally:
        context.detach(token)


async def _run_job(*, deps: Deps, job: SyncJob) -> str:
    job_id = job.id
    bound = log.bind(job_id=str(job_id), installation_id=str(job.installation_id),
                     integration_key=job.integration_key, replica=deps.replica)
    lost = asyncio.Event()
    runner = asyncio.current_task()
    beat = asyncio.create_task(_heartbeat(deps, job_id, lost, runner), name=f"heartbeat-{job_id}")
    started = time.monotonic()
    try:
        plugin = plugin_for(job.integration_key)
        async with deps.pool.acquire() as conn:
            await repo.set_connector_version(conn, job_id, plugin.manifest.version)
        bound.info("sync running", sync_type=job.sync_type, retry_count=job.retry_count)
        await _sync_once(deps=deps, plugin=plugin, job=job)
    except asyncio.CancelledError:
        if lost.is_set():
            bound.warning("sync job taken over by another replica; stopped")
            return "lost"
        raise  # shutting down: the worker hands the job back (or its heartbeat expires)
    except LeaseLost:
        bound.warning("sync job taken over by another replica; stopped")
        return "lost"
    except JobCancelled:
        async with deps.pool.acquire() as conn, conn.transaction():
            row = await repo.finish(conn, job_id, status="cancelled", replica=deps.replica, error_class=None,
                                    error_message=None)
            if row is not None:
                await enqueue(conn, cancelled_event(row, by="request"))
        bound.info("sync cancelled at a batch boundary")
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - every failure is classified and recorded
        error_class, message = outcome_of(exc)
        if error_class == "internal":
            bound.exception("sync failed unexpectedly")
        if error_class == "transient" and job.retry_count < job.max_retries:
            delay = deps.settings.sync_retry_backoff_s * 2 ** job.retry_count
            bound.warning("sync attempt failed; retrying from the checkpoint", retry_count=job.retry_count + 1,
                          delay_s=delay, error_class=error_class, error=message)
            await repo.release_for_retry(deps.pool, job_id, replica=deps.replica, error_class=error_class,
                                         error_message=message, delay_s=delay)
            return "pending"
        bound.warning("sync failed", error_class=error_class, error=message)
        await _finish_failed(deps, job, error_class, message)
        return "failed"
    finally:
        beat.cancel()
    async with deps.pool.acquire() as conn, conn.transaction():
        done = await repo.complete(conn, job_id, replica=deps.replica)
        if done is None:
            return "lost"
        await enqueue(conn, _wrap(SyncCompleted(
            **_base(job), job_id=job_id, processed_records=done.processed_records,
            published_events=done.published_events, failed_records=done.failed_records,
            duration_ms=int((time.monotonic() - started) * 1000), entity_counts=done.entity_counts), job))
    bound.info("sync completed", processed=done.processed_records, published=done.published_events,
               failed=done.failed_records)
    return "completed"


async def _heartbeat(deps: Deps, job_id: uuid.UUID, lost: asyncio.Event, runner: asyncio.Task | None) -> None:
    """Keep the claim alive; if another replica has taken the job, stop the runner."""
    while True:
        await asyncio.sleep(deps.settings.heartbeat_interval_s)
        try:
            held = await repo.heartbeat(deps.pool, job_id, replica=deps.replica)
        except (OSError, asyncpg.PostgresError):
            continue  # Postgres blip: the lease has slack for a few missed beats
        if held is None:
            lost.set()
            if runner is not None:
                runner.cancel()
            return


async def _sync_once(*, deps: Deps, plugin, job: SyncJob) -> None:
    """Lease the credential once, then run the job's streams: all in this process, or with stream
    workers, the first here and each other one in a worker process at the same time (streams are
    independent: each has its own checkpoint, and the counts add up in the job row)."""
    installation_id = job.installation_id
    names = [s.name for s in plugin.manifest.api.streams] if plugin.manifest.api else []
    remote = names[1:] if deps.stream_workers is not None and len(names) > 1 else []
    stop = asyncio.Event()
    secrets = await lease_secrets(deps.vault_gateway, credential_ref=job.credential_ref,
                                  installation_id=installation_id)
    try:
        # The set the request carried, else the newest the schedule holds, else the connector's defaults.
        raw = job.mappings if job.mappings is not None else await schedules.mappings(deps.pool, installation_id)
        mappings = None if raw is None else MappingSet.parse(raw)
        checkpoint = None if job.sync_type == "full" else _join(await repo.checkpoints(deps.pool, installation_id))
        # Instances that read at the same time share the installation's rate budget.
        share = 1 + len(remote)
        here = run_streams(pool=deps.pool, broker=deps.broker, settings=deps.settings, replica=deps.replica,
                           plugin=plugin, job=job, secrets=secrets, mappings=mappings, checkpoint=checkpoint,
                           streams=names[:1] if remote else None, all_streams=names, rate_share=share, stop=stop)
        parts = [asyncio.ensure_future(here)]
        parts += [asyncio.ensure_future(deps.stream_workers.run(  # type: ignore[union-attr]
            job=job, secrets=secrets, mappings=mappings, checkpoint=checkpoint, streams=[name], all_streams=names,
            rate_share=share, replica=deps.replica, stop=stop)) for name in remote]
    finally:
        secrets = {}
    try:
        for part in asyncio.as_completed(parts):
            await part  # the first failure ends the job's attempt
    finally:
        # The other streams end at their next batch boundary (their open batch committed, nothing
        # published after it) before the attempt's outcome is recorded; one that is stuck (a long
        # Retry-After) is cancelled after a grace period, its open batch uncommitted.
        stop.set()
        _, stuck = await asyncio.wait(parts, timeout=STOP_GRACE_S)
        for part in stuck:
            part.cancel()
        await asyncio.gather(*parts, return_exceptions=True)


async def run_streams(*, pool: asyncpg.Pool, broker: KafkaBroker, settings: SyncRunnerSettings, replica: str, plugin,
                      job: SyncJob, secrets: dict[str, Any], mappings: MappingSet | None,
                      checkpoint: dict[str, Any] | None, streams: list[str] | None, all_streams: list[str],
                      rate_share: int = 1, stop: asyncio.Event | None = None) -> None:
    """Read, map and publish ``streams`` of the job (None: all), each batch acknowledged (acks=all)
    before its checkpoint and counts commit. Raises JobCancelled or LeaseLost at a batch boundary;
    returns at one once ``stop`` is set (another stream of the job ended its attempt)."""
    job_id, org_id, installation_id = job.id, job.org_id, job.installation_id
    # Its own client per job; the connector instance keeps to its share of the vendor's rate
    # budget (one job per installation at a time, so that is the installation's rate limit).
    http = vendor_client(settings)
    try:
        instance = open_instance(plugin, org_id=org_id, installation_id=installation_id,
                                 integration_key=job.integration_key, settings=job.settings, secrets=secrets,
                                 http=http, mappings=mappings, rate_share=rate_share)
    except BaseException:
        await http.aclose()
        raise
    finally:
        secrets = {}
    committing: asyncio.Task | None = None
    reading: str | None = None
    try:
        async for batch in instance.sync(checkpoint, job_id, streams=streams):
            events, dead = _screen(job, batch)
            encoded = kafka.encode_many(events, source=SOURCE, org_id=org_id, installation_id=installation_id)
            if committing is not None:
                await committing  # the previous batch's checkpoint first: they commit in order
            if stop is not None and stop.is_set():
                return
            # A cancelled or lost job publishes nothing past its last committed batch.
            cancel = await repo.cancel_requested(pool, job_id, replica=replica)
            if cancel is None:
                raise LeaseLost()
            if cancel:
                raise JobCancelled()
            acks = await kafka.publish_encoded(broker, encoded)
            progress = {batch.stream: _part(batch)}
            if reading is not None and reading != batch.stream:
                progress[reading] = 1.0  # the stream before it is finished
            reading = batch.stream
            # Its acks (acks=all) and then its checkpoint are awaited while the loop reads the next page.
            committing = asyncio.create_task(_commit(pool, replica, job, batch, acks=acks, published=len(events),
                                                     entities=dict(Counter(e.entity_type for e in events)),
                                                     dead=dead, progress=progress, streams=len(all_streams)))
        if committing is not None:
            await committing
        done = streams if streams is not None else all_streams
        if await repo.add_progress(pool, job_id, replica=replica, processed=0, failed=0, published=0,
                                   progress={name: 1.0 for name in done}, streams=len(all_streams)) is None:
            raise LeaseLost()
    except Exception:
        if committing is not None and not committing.done():
            with contextlib.suppress(Exception):
                await committing  # the batch before the failure is durable: keep its checkpoint
        raise
    finally:
        if committing is not None and not committing.done():
            committing.cancel()  # the job is being stopped: its transaction rolls back
            with contextlib.suppress(BaseException):
                await committing
        await instance.close()
        await http.aclose()


def outcome_of(exc: Exception) -> tuple[str, str]:
    """(error class, message) of a failed attempt; a Kafka error is transient."""
    if isinstance(exc, KafkaError):
        exc = RunError("transient", f"publishing to Kafka failed ({type(exc).__name__})")
    return classify(exc)


def _screen(job: SyncJob, batch) -> tuple[list, list[DeadLetter]]:
    """The batch's events that may be published, and dead letters for the rest and for record errors."""
    events, dead = [], []
    now = datetime.now(timezone.utc)
    for entity in batch.events:
        if entity.org_id != job.org_id:  # a connector must never emit into another tenant
            log.error("entity of another organization dropped", job_id=str(job.id), stream=batch.stream)
            dead.append(DeadLetter(**_base(job), origin=f"sync:{batch.stream}", job_id=job.id,
                                   external_id=entity.provenance.external_id, failed_at=now,
                                   raw_sha256=entity.provenance.raw_sha256,
                                   reason="connector emitted an entity of another organization"))
            continue
        events.append(entity)
    for err in batch.record_errors:
        log.warning("record skipped", job_id=str(job.id), stream=err.stream, external_id=err.external_id,
                    reason=err.reason)
        dead.append(DeadLetter(**_base(job), origin=f"sync:{err.stream}", job_id=job.id,
                               external_id=err.external_id, reason=err.reason, failed_at=now))
    return events, dead


async def _commit(pool: asyncpg.Pool, replica: str, job: SyncJob, batch, *, acks: list[asyncio.Future], published: int,
                  entities: dict[str, int],
                  dead: list[DeadLetter], progress: dict[str, float], streams: int) -> None:
    """Wait for the batch's acknowledgements, then save its counts, checkpoint and dead letters."""
    job_id = job.id
    await asyncio.gather(*acks)
    async with pool.acquire() as conn, conn.transaction():
        counts = await repo.add_progress(
            conn, job_id, replica=replica, processed=len(batch.events) + len(batch.record_errors),
            failed=len(dead), published=published, progress=progress, streams=streams, entities=entities)
        if counts is None:
            raise LeaseLost()
        parts = _split(batch.checkpoint)
        if batch.stream in parts:
            # Only this stream's part moved; another process may be moving the others.
            parts = {batch.stream: parts[batch.stream]}
        for stream, state in parts.items():
            await repo.save_checkpoint(conn, installation_id=job.installation_id, stream=stream, state=state,
                                       job_id=job_id)
        for letter in dead:
            await enqueue(conn, _wrap(letter, job))
        await enqueue(conn, _wrap(SyncProgress(
            **_base(job), job_id=job_id, stream=batch.stream, processed_records=counts["processed_records"],
            failed_records=counts["failed_records"]), job))
    if counts["cancel_requested"]:
        raise JobCancelled()


def _part(batch) -> float:
    """Share of the batch's stream read, where the vendor reports a total (else it counts once finished)."""
    return min(1.0, batch.stream_read / batch.stream_total) if batch.stream_total else 0.0


async def _finish_failed(deps: Deps, job: SyncJob, error_class: str, message: str) -> None:
    async with deps.pool.acquire() as conn, conn.transaction():
        await _record_failure(conn, job, replica=deps.replica, error_class=error_class, message=message)


async def _record_failure(conn: asyncpg.Connection, job: SyncJob, *, replica: str, error_class: str, message: str) -> None:
    """The job ends failed (fenced by the claim), announced by sync.failed (the installer puts the
    installation in error) and a health change."""
    row = await repo.finish(conn, job.id, status="failed", replica=replica, error_class=error_class,
                            error_message=message)
    if row is None:
        return
    await enqueue(conn, _wrap(SyncFailed(**_base(job), job_id=job.id, error_class=error_class,
                                         error_message=message, entity_counts=row.entity_counts), job))
    # The installation is unusable until someone acts: say so on the health topic (once per change).
    await health.record(conn, org_id=job.org_id, installation_id=job.installation_id,
                        integration_key=job.integration_key, status="down",
                        details={"reason": "sync_failed", "job_id": str(job.id), "error_class": error_class,
                                 "error": message})


def cancelled_event(job: SyncJob, *, by: str) -> Envelope:
    """sync.cancelled for a job that ended cancelled (``by``: who asked)."""
    return _wrap(SyncCancelled(**_base(job), job_id=job.id, processed_records=job.processed_records,
                               published_events=job.published_events, cancelled_by=by,
                               entity_counts=job.entity_counts), job)


def _base(job: SyncJob) -> dict:
    return dict(installation_id=job.installation_id, org_id=job.org_id, integration_key=job.integration_key)


def _wrap(payload, job: SyncJob) -> Envelope:
    return traced(payload, source=SOURCE, org_id=job.org_id, installation_id=job.installation_id)


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


# -- cancel and reads -------------------------------------------------------------------


async def cancel_job(*, pool: asyncpg.Pool, job_id: uuid.UUID, requested_by: str) -> SyncJob:
    """A pending job is cancelled now; a running one at its next batch boundary."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repo.get_job(conn, job_id)
        if current is None:
            raise not_found("sync job")
        if current.status not in ("pending", "running"):
            raise Problem(409, "job_finished", "Sync job already finished",
                          f"the job is {current.status}; only pending or running jobs can be cancelled",
                          current_state=current.status)
        row = await repo.request_cancel(conn, job_id)
        if row.status == "pending":
            row = await repo.finish(conn, job_id, status="cancelled", replica=None, error_class=None,
                                    error_message=None)
            if row is not None:
                await enqueue(conn, cancelled_event(row, by=requested_by))
        log.info("sync cancel requested", job_id=str(job_id), status=row.status if row else None,
                 by=requested_by)
        return await repo.get_job(conn, job_id)


async def get_job(*, pool: asyncpg.Pool, job_id: uuid.UUID) -> SyncJob:
    job = await repo.get_job(pool, job_id)
    if job is None:
        raise not_found("sync job")
    return job


async def list_jobs(*, pool: asyncpg.Pool, installation_id: uuid.UUID, limit: int,
                    cursor: tuple | None) -> tuple[list[SyncJob], tuple | None]:
    jobs = await repo.list_jobs(pool, installation_id, limit=limit + 1, before=cursor)
    page = jobs[:limit]
    more = len(jobs) > limit
    return page, ((page[-1].created_at, page[-1].id) if more else None)
