"""Schedules from the installation lifecycle, and starting the syncs that are due.

Each enabled installation syncs every `frequency` (realtime = realtime_interval_s, hourly,
daily, weekly; manual = only on request), plus a random jitter of up to
schedule_jitter_fraction of the interval so installations enabled together do not sync
together. The first sync of a newly enabled installation is due at once. A due schedule whose
installation already has a pending or running job is pushed to its next slot instead
(no pile-up behind a long sync). Scheduled jobs get a request id derived from the slot, so two
replicas looking at the same slot create one job.
"""

from __future__ import annotations

import random
import uuid

import asyncpg
import structlog

from aria_contracts.events import (
    InstallationConfigured,
    InstallationDisabled,
    InstallationEnabled,
    InstallationEvent,
    InstallationMappingsChanged,
    InstallationUninstalled,
)
from aria_platform.outbox import enqueue

from ..jobs import repo as jobs_repo
from ..jobs.service import PRIORITY_SCHEDULED, cancelled_event
from ..settings import SyncRunnerSettings
from . import repo

log = structlog.get_logger(__name__)
INTERVALS_S = {"hourly": 3600.0, "daily": 86400.0, "weekly": 7 * 86400.0}
SLOT_NAMESPACE = uuid.UUID("6f1d3c7e-3b1a-4c55-9a0e-5b2f7d9c1e42")
BATCH = 50


def interval_s(frequency: str, settings: SyncRunnerSettings) -> float | None:
    if frequency == "realtime":
        return settings.realtime_interval_s
    return INTERVALS_S.get(frequency)


async def apply_lifecycle(*, pool: asyncpg.Pool, event: InstallationEvent) -> bool:
    """Apply one lifecycle event; False when a newer revision was already applied (or it does not matter here)."""
    ids = dict(installation_id=event.installation_id, org_id=event.org_id, integration_key=event.integration_key,
               revision=event.revision)
    async with pool.acquire() as conn, conn.transaction():
        if isinstance(event, InstallationEnabled):
            applied = await repo.enable(conn, **ids, frequency=event.sync_frequency, settings=event.settings,
                                        credential_ref=event.credential_ref, config_version=event.config_version)
        elif isinstance(event, InstallationConfigured):
            applied = await repo.configure(conn, **ids, settings=event.settings, credential_ref=event.credential_ref,
                                           config_version=event.config_version)
        elif isinstance(event, InstallationMappingsChanged):
            applied = await repo.set_mappings(conn, **ids, mappings=event.mappings)
        elif isinstance(event, (InstallationDisabled, InstallationUninstalled)):
            applied = await repo.disable(conn, **ids)
            if applied:
                for job in await jobs_repo.cancel_active_jobs(conn, event.installation_id):
                    await enqueue(conn, cancelled_event(job, by=event.event_type))
        else:
            return False
    log.info("schedule updated" if applied else "stale lifecycle event ignored", event_type=event.event_type,
             installation_id=str(event.installation_id), revision=event.revision)
    return applied


async def start_due(*, pool: asyncpg.Pool, settings: SyncRunnerSettings) -> int:
    """Create the jobs of every due schedule; returns how many jobs were created."""
    created = 0
    async with pool.acquire() as conn, conn.transaction():
        for row in await repo.claim_due(conn, limit=BATCH):
            every = interval_s(row["frequency"], settings) or INTERVALS_S["daily"]
            await repo.set_next_run(conn, row["installation_id"],
                                    after_s=every * (1 + random.random() * settings.schedule_jitter_fraction))
            if await jobs_repo.has_active_job(conn, row["installation_id"]):
                continue
            slot = f"{row['installation_id']}:{row['next_run_at'].isoformat()}"
            job = await jobs_repo.create_job(
                conn, job_id=uuid.uuid4(), org_id=row["org_id"], installation_id=row["installation_id"],
                integration_key=row["integration_key"], request_id=uuid.uuid5(SLOT_NAMESPACE, slot),
                sync_type="incremental", triggered_by="scheduler", max_retries=settings.sync_max_retries,
                config_version=row["config_version"], priority=PRIORITY_SCHEDULED, settings=row["settings"],
                credential_ref=row["credential_ref"])
            created += job is not None
    if created:
        log.info("scheduled syncs queued", count=created)
    return created
