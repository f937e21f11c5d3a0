"""Stream workers: processes of a replica that run some of a job's streams while the replica's own
process runs the first one (a sync is CPU-bound in one process: reading, mapping, encoding).

A replica starts ``settings.stream_workers`` of them with itself and talks to each over a socket
pair, one JSON line per message:
* replica -> worker: {"run": id, "job", "secrets", "mappings", "checkpoint", "streams", ...},
  {"stop": id} (end at the next batch boundary), {"cancel": id} (end now, open batch uncommitted);
* worker -> replica: {"ready": true} once connected to Postgres and Kafka, then
  {"done": id, "outcome": "ok" | "cancelled" | "lost" | "stopped" | "error", "published", ...} per
  run ("published": events per topic since its last answer, counted in the replica's metrics).

A worker runs `service.run_streams`, the same code the replica runs for its own stream, with
the same fencing (every publish and commit checks that the replica still holds the job), so a
stream's batches are acknowledged (acks=all) before its checkpoint commits wherever it runs. The
credential is leased once by the replica and handed over the socket (memory to memory: never
logged, stored or put on a command line). A worker whose replica dies sees its socket close and
exits at once, abandoning its open batch uncommitted (as a crash of the replica itself would);
a worker that dies fails its runs as transient (the job is retried from its checkpoints) and is
started again for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import uuid
from typing import Any

import orjson
import structlog
from opentelemetry import context, propagate

from aria_platform import kafka
from aria_platform.app import tune_gc
from aria_platform.db import create_pool
from aria_platform.logging import configure_logging
from aria_platform.metrics import EVENTS_PUBLISHED

from aria_connectors import registry
from aria_connectors.sdk.data_mappings import MappingSet

from ..connectors import RunError, plugin_for
from ..outbound import tls_context
from ..settings import SyncRunnerSettings
from . import service
from .model import SyncJob

log = structlog.get_logger(__name__)
STOP_WAIT_S = 30.0  # a stopped run ends at its next await; this bounds a worker that hangs


class StreamWorkers:
    """The replica's side: ``count`` worker processes, each taking runs in turn."""

    def __init__(self, settings: SyncRunnerSettings, count: int):
        self.settings = settings
        self.processes: list[_Worker | None] = [None] * count
        self._turn = 0

    async def start(self) -> None:
        """Start every worker now, so that a job does not wait for their start-up."""
        await asyncio.gather(*(self._worker(i) for i in range(len(self.processes))))

    async def stop(self) -> None:
        for worker in self.processes:
            if worker is not None:
                await worker.close()
        self.processes = [None] * len(self.processes)

    async def run(self, *, job: SyncJob, secrets: dict[str, Any], mappings: MappingSet | None,
                  checkpoint: dict[str, Any] | None, streams: list[str], all_streams: list[str], rate_share: int,
                  replica: str, stop: asyncio.Event) -> None:
        """Run ``streams`` of the job in a worker; raises and stops as ``service.run_streams`` would."""
        worker = await self._worker(self._turn % len(self.processes))
        self._turn += 1
        message = {"job": job.model_dump(mode="json"), "secrets": secrets,
                   "mappings": None if mappings is None else list(mappings.raw),
                   "checkpoint": checkpoint, "streams": streams, "all_streams": all_streams,
                   "rate_share": rate_share, "replica": replica, "trace": kafka.current_trace_headers()}
        done = await worker.run(message, stop)
        outcome = done["outcome"]
        if outcome == "cancelled":
            raise service.JobCancelled()
        if outcome == "lost":
            raise service.LeaseLost()
        if outcome not in ("ok", "stopped"):
            raise RunError(done.get("error_class") or "internal", done.get("message") or "stream worker failed")

    async def _worker(self, i: int) -> _Worker:
        worker = self.processes[i]
        if worker is None or worker.dead:
            worker = self.processes[i] = await _Worker.start(self.settings)
        return worker


class _Worker:
    def __init__(self, process: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        self.process, self.reader, self.writer = process, reader, writer
        self.pending: dict[str, asyncio.Future] = {}
        self.dead = False
        self.listening = asyncio.create_task(self._listen())

    @classmethod
    async def start(cls, settings: SyncRunnerSettings) -> _Worker:
        ours, theirs = socket.socketpair()
        try:
            process = await asyncio.create_subprocess_exec(sys.executable, "-m", __name__, str(theirs.fileno()),
                                                           pass_fds=[theirs.fileno()])
        finally:
            theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=2**24)
        writer.write(orjson.dumps(settings.model_dump(mode="json", exclude={"jwt_secret"})) + b"\n")
        ready = await reader.readline()
        if not ready:
            writer.close()
            await process.wait()
            raise RunError("internal", f"a stream worker did not start (exit code {process.returncode})")
        return cls(process, reader, writer)

    async def run(self, message: dict, stop: asyncio.Event) -> dict:
        if self.dead:
            raise RunError("transient", "a stream worker process stopped")
        run_id = uuid.uuid4().hex
        done = self.pending[run_id] = asyncio.get_running_loop().create_future()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            self.writer.write(orjson.dumps({"run": run_id, **message}) + b"\n")
            message.pop("secrets", None)
            await asyncio.wait([done, stopping], return_when=asyncio.FIRST_COMPLETED)
            if not done.done() and not self.dead:
                self._send({"stop": run_id})
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            if not done.done() and not self.dead:
                self._send({"cancel": run_id})
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(done, STOP_WAIT_S)
            raise
        finally:
            stopping.cancel()
            self.pending.pop(run_id, None)

    def _send(self, message: dict) -> None:
        self.writer.write(orjson.dumps(message) + b"\n")

    async def _listen(self) -> None:
        try:
            while line := await self.reader.readline():
                message = orjson.loads(line)
                for topic, count in message.get("published", {}).items():
                    EVENTS_PUBLISHED.labels(topic=topic).inc(count)
                waiter = self.pending.get(message["done"])
                if waiter is not None and not waiter.done():
                    waiter.set_result(message)
        except (OSError, ValueError):
            pass
        finally:
            self.dead = True
            self.writer.close()
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
            for waiter in self.pending.values():
                if not waiter.done():
                    waiter.set_exception(RunError("transient", "a stream worker process stopped"))
            if self.pending:
                log.error("stream worker process stopped", exit_code=self.process.returncode)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(asyncio.shield(self.listening), STOP_WAIT_S)
        self.listening.cancel()


# -- the worker process ---------------------------------------------------------------------


async def _serve(fd: int) -> None:
    reader, writer = await asyncio.open_connection(sock=socket.socket(fileno=fd), limit=2**24)
    settings = SyncRunnerSettings.model_validate(orjson.loads(await reader.readline()))
    configure_logging(settings.service_name, settings.log_level)
    pool = await create_pool(settings.database_url)
    broker = kafka.create_broker(settings.kafka_bootstrap, client_id=f"aria-{settings.service_name}-streams")
    await broker.start()
    registry.discover()
    tls_context()  # every job's vendor client shares it (the replica builds it when it wires its client)
    tune_gc()
    runs: dict[str, tuple[asyncio.Task, asyncio.Event]] = {}

    def finished(run_id: str, task: asyncio.Task) -> None:
        runs.pop(run_id, None)
        if not writer.is_closing():
            writer.write(orjson.dumps({"done": run_id, "published": _published_since_last(),
                                       **({"outcome": "stopped"} if task.cancelled() else task.result())}) + b"\n")

    try:
        writer.write(b'{"ready": true}\n')
        while line := await reader.readline():  # empty: the replica is gone
            message = orjson.loads(line)
            if "stop" in message or "cancel" in message:
                if (run := runs.get(message.get("stop") or message["cancel"])) is not None:
                    run[1].set() if "stop" in message else run[0].cancel()
                continue
            stop = asyncio.Event()
            task = asyncio.create_task(_run(pool, broker, settings, message, stop))
            runs[message["run"]] = (task, stop)
            task.add_done_callback(lambda t, run_id=message["run"]: finished(run_id, t))
    finally:
        for task, _ in list(runs.values()):
            task.cancel()
        await asyncio.gather(*(task for task, _ in runs.values()), return_exceptions=True)
        await broker.stop()
        await pool.close()


_reported: dict[str, float] = {}


def _published_since_last() -> dict[str, float]:
    """Events this worker published per topic since its last answer: the replica adds them to its
    own aria_events_published_total (the replica's /metrics is the one scraped)."""
    delta = {}
    for metric in EVENTS_PUBLISHED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.value != _reported.get(topic := sample.labels["topic"], 0.0):
                delta[topic] = sample.value - _reported.get(topic, 0.0)
                _reported[topic] = sample.value
    return delta


async def _run(pool, broker, settings: SyncRunnerSettings, message: dict, stop: asyncio.Event) -> dict:
    job = SyncJob.model_validate(message["job"])
    token = context.attach(propagate.extract(message["trace"]))
    try:
        mappings = message["mappings"]
        await service.run_streams(pool=pool, broker=broker, settings=settings, replica=message["replica"],
                                  plugin=plugin_for(job.integration_key), job=job, secrets=message.pop("secrets"),
                                  mappings=None if mappings is None else MappingSet.parse(mappings),
                                  checkpoint=message["checkpoint"], streams=message["streams"],
                                  all_streams=message["all_streams"],
                                  rate_share=message["rate_share"], stop=stop)
        return {"outcome": "stopped" if stop.is_set() else "ok"}
    except asyncio.CancelledError:
        return {"outcome": "stopped"}
    except service.JobCancelled:
        return {"outcome": "cancelled"}
    except service.LeaseLost:
        return {"outcome": "lost"}
    except Exception as exc:  # noqa: BLE001 - classified for the replica, which records the outcome
        error_class, text = service.outcome_of(exc)
        if error_class == "internal":
            log.exception("streams of a sync failed unexpectedly", job_id=str(job.id), streams=message["streams"])
        return {"outcome": "error", "error_class": error_class, "message": text}
    finally:
        context.detach(token)


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
