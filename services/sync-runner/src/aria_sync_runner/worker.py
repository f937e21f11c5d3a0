"""The background work of one replica: start due schedules, claim and run jobs, check health.

Started and stopped with the app (deps.start / deps.stop hooks). On a graceful stop the jobs this
replica runs are cancelled and handed back to the queue at once (another replica resumes them
from their checkpoints); after a crash they are taken over when their heartbeat expires
(settings.job_lease_s).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import httpx
import structlog

from aria_platform.internal import InternalClient
from aria_platform.runtime import Runtime

from .health import service as health
from .jobs import repo as jobs_repo
from .jobs import service as jobs
from .jobs.workers import StreamWorkers
from .schedules import service as schedules
from .settings import SyncRunnerSettings

log = structlog.get_logger(__name__)


class Worker:
    def __init__(self, rt: Runtime, *, vault_gateway: InternalClient, outbound: httpx.AsyncClient):
        self.rt, self.vault_gateway, self.outbound = rt, vault_gateway, outbound
        self.settings: SyncRunnerSettings = rt.settings  # type: ignore[assignment]
        self.replica = self.settings.resolved_replica_id()
        self.jobs: dict[uuid.UUID, asyncio.Task] = {}
        self.loops: list[asyncio.Task] = []
        self._wake = asyncio.Event()
        self.health_instances = health.Instances(ttl_s=self.settings.health_credential_ttl_s)
        self.streams = StreamWorkers(self.settings, self.settings.stream_workers) if self.settings.stream_workers else None

    def wake(self) -> None:
        """A job was queued on this replica: look for work now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self.loops = [asyncio.create_task(self._claim_loop(), name="sync-claim"),
                      asyncio.create_task(self._every(self.settings.worker_poll_interval_s, self._schedule),
                                          name="sync-schedule"),
                      asyncio.create_task(self._every(self.settings.worker_poll_interval_s, self._health),
                                          name="health-checks")]

    async def stop(self) -> None:
        for task in self.loops + list(self.jobs.values()):
            task.cancel()
        await asyncio.gather(*self.loops, *self.jobs.values(), return_exceptions=True)
        await self.health_instances.close()
        if self.streams is not None:
            await self.streams.stop()
        released = await jobs_repo.release_replica(self.rt.pool, self.replica)
        if released:
            log.info("running jobs handed back to the queue", count=released, replica=self.replica)

    def _deps(self) -> jobs.Deps:
        return jobs.Deps(pool=self.rt.pool, broker=self.rt.broker, outbound=self.outbound,
                         vault_gateway=self.vault_gateway, settings=self.settings, replica=self.replica,
                         stream_workers=self.streams)

    async def _claim_loop(self) -> None:
        # Hooks run before the broker starts; a job must not publish before it can.
        while not await self._broker_up():
            await asyncio.sleep(0.1)
        if self.streams is not None:
            try:
                await self.streams.start()
            except Exception:  # they start again when a job needs them
                log.exception("stream workers did not start")
        while True:
            try:
                while job := await jobs.claim_job(pool=self.rt.pool, settings=self.settings, replica=self.replica):
                    task = asyncio.create_task(jobs.run_job(deps=self._deps(), job=job), name=f"sync-{job.id}")
                    self.jobs[job.id] = task
                    task.add_done_callback(lambda t, job_id=job.id: self._done(job_id, t))
            except Exception:  # Postgres blip: keep the loop alive
                log.exception("claiming sync jobs failed; retrying")
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.worker_poll_interval_s)

    async def _broker_up(self) -> bool:
        try:
            return bool(await self.rt.broker.ping(timeout=1.0))
        except Exception:  # not connected yet
            return False

    def _done(self, job_id: uuid.UUID, task: asyncio.Task) -> None:
        self.jobs.pop(job_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("sync job task crashed", job_id=str(job_id), error=repr(task.exception()))
        self.wake()  # a slot is free

    async def _schedule(self) -> None:
        if await schedules.start_due(pool=self.rt.pool, settings=self.settings):
            self.wake()

    async def _health(self) -> None:
        s = self.settings
        await health.check_due(pool=self.rt.pool, outbound=self.outbound,
                               vault_gateway=self.vault_gateway, instances=self.health_instances,
                               interval_s=s.health_check_interval_s, timeout_s=s.health_check_timeout_s)

    async def _every(self, seconds: float, action) -> None:
        while True:
            try:
                await action()
            except Exception:
                log.exception("background task failed; retrying", task=action.__name__)
            await asyncio.sleep(seconds)

