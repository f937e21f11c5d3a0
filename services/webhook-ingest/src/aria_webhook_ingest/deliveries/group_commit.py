"""Group commit: verified deliveries that arrive together share one transaction and one Kafka round trip.

Recording and publishing a delivery costs a Postgres transaction (BEGIN, INSERT, COMMIT with its
fsync) and a Kafka acks=all round trip; paid per delivery, those dominated the ingest path. Here
each request hands its verified, normalized delivery to `GroupCommit.submit` and waits. A
background task takes every delivery queued so far (up to `max_batch`) as one batch and, in one
transaction:

1. inserts the dedup rows of all of them in one statement (`ON CONFLICT DO NOTHING`: a delivery
   id already accepted, or a second copy within the batch, is a duplicate);
2. records the duplicates for the activity log;
3. publishes the events of the accepted ones (all sent, then every acks=all acknowledgement
   awaited) within `publish_timeout_s`;
4. commits, and only then answers every waiting request (202 accepted / 200 duplicate).

Up to `max_in_flight` batches run at once, so one batch's Kafka wait overlaps the next one's
insert; while they run, new deliveries queue up, so batches grow with the load. A batch costs
about a millisecond of CPU whatever its size (four round trips: BEGIN, INSERT, the Kafka produce,
COMMIT), against tens of microseconds per delivery in it, so under load a batch first waits up to
`linger_s` (2 ms) for company: while another batch is still committing (batches of 2-5 became 6-9
deliveries in bench/webhook), and otherwise until as many deliveries are queued as the previous
batch held, since the senders it just answered are sending again (without this, the first of them
started a batch alone and the rest made the next one: batches alternated 1 and 7 at 16 senders).
An idle service starts a batch at once: after a batch of one, a lone delivery is never held back.

Guarantees, the same as one transaction per delivery:
- A 202 means the events are acknowledged by Kafka and the row is committed.
- Record-then-publish, inside the open transaction: the dedup row is claimed before anything is
  published, so a concurrent copy of a delivery (in this batch, in another batch or on another
  replica) waits on the unique index and becomes a duplicate; it is never published twice.
  (Publish-then-record could not dedup: two copies would both publish before either recorded.)
- Kafka failing or timing out rolls the whole batch back: every request in it gets 503 and
  nothing is recorded, so the vendors' retries are accepted later. Postgres failing does the same.
- Events may reach Kafka while the batch still fails (a partial publish, a timeout, the commit
  or the process dying after the acks). The vendor got no 202 and retries; the retry republishes
  the same events with the same deterministic entity ids and dedup keys (in the envelope), so
  consumers see no duplicate fact: at least once on the wire, exactly once in effect.
- Rows are inserted sorted by (installation, delivery id), so concurrent batches take index
  locks in one order and cannot deadlock on each other's duplicates by delivery id. A replay
  under a new delivery id conflicts on the replay-key index instead, in another order; should
  that ever deadlock, Postgres aborts one batch, which answers 503 and is retried (nothing lost).
"""

from __future__ import annotations

import asyncio
import collections
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from prometheus_client import Counter, Histogram

from aria_platform import kafka
from aria_platform.problems import Problem

from . import repo

log = structlog.get_logger(__name__)
DELIVERIES = Counter("aria_webhook_deliveries_total", "Webhook deliveries by outcome", ["outcome"])
BATCH_SIZE = Histogram("aria_webhook_commit_batch_size", "Deliveries committed together in one group commit",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512))
DUPLICATE_REASON = "delivery id or signed content already accepted"


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: dict[str, Any]


@dataclass(frozen=True, eq=False)
class Verified:
    """A delivery whose signature verified and whose events are built: ready to record and publish."""

    installation_id: uuid.UUID
    org_id: uuid.UUID
    delivery_id: str
    payload_sha256: str
    replay_key: str  # hash of what the signature covers: the same key is the same signed delivery
    event_count: int
    messages: list[kafka.Outgoing]  # its events and webhook.received, encoded

    @property
    def key(self) -> tuple[uuid.UUID, str]:
        return self.installation_id, self.delivery_id


class _PublishFailed(Exception):
    pass


def _kafka_unavailable() -> Problem:
    return Problem(503, "kafka_unavailable", "Temporarily unable to accept the delivery",
                   "events could not be published; nothing was recorded, retry later", headers={"Retry-After": "10"})


def _database_unavailable() -> Problem:
    return Problem(503, "dependency_unavailable", "Temporarily unable to accept the delivery",
                   "the delivery could not be recorded; nothing was recorded, retry later",
                   headers={"Retry-After": "10"})


def _shutting_down() -> Problem:
    return Problem(503, "shutting_down", "Temporarily unable to accept the delivery",
                   "this worker is shutting down; retry", headers={"Retry-After": "1"})


class GroupCommit:
    def __init__(self, *, pool: asyncpg.Pool, broker: KafkaBroker, publish_timeout_s: float, max_batch: int = 256,
                 max_in_flight: int = 2, linger_s: float = 0.002):
        if max_batch < 1 or max_in_flight < 1 or linger_s < 0:
            raise ValueError("max_batch and max_in_flight must be >= 1, linger_s >= 0")
        self._pool, self._broker, self._timeout = pool, broker, publish_timeout_s
        self._max_batch, self._linger = max_batch, linger_s
        self._queue: collections.deque[tuple[Verified, asyncio.Future]] = collections.deque()
        self._wake = asyncio.Event()
        self._gathered = asyncio.Event()  # set once the queue reaches _gather (0: nothing lingering)
        self._gather, self._last_size = 0, 1
        self._slots = asyncio.Semaphore(max_in_flight)
        self._flushes: set[asyncio.Task] = set()
        self._task: asyncio.Task | None = None
        self._closing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="webhook-group-commit")

    async def stop(self) -> None:
        """Commit what is queued and in flight, then stop; later submissions get 503."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._flushes:
            await asyncio.gather(*self._flushes, return_exceptions=True)

    async def submit(self, delivery: Verified) -> Outcome:
        """The delivery's outcome once its batch committed; raises a 503 Problem if the batch failed."""
        if self._closing:
            raise _shutting_down()
        future = asyncio.get_running_loop().create_future()
        self._queue.append((delivery, future))
        self._wake.set()
        if self._gather and len(self._queue) >= self._gather:
            self._gathered.set()
        # If this request is cancelled (the sender hung up), its delivery is still committed or
        # rolled back with its batch; the sender's retry then finds it as a duplicate or anew.
        return await future

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._slots.acquire()  # while every slot is busy, deliveries queue up: the next batch grows
            await self._linger_for_company()
            batch = [self._queue.popleft() for _ in range(min(len(self._queue), self._max_batch))]
            self._last_size = len(batch)
            task = asyncio.create_task(self._flush(batch))
            self._flushes.add(task)
            task.add_done_callback(self._flushed)

    async def _linger_for_company(self) -> None:
        """Under load, up to linger_s until the queue holds a full batch (another batch is committing)
        or as many deliveries as the previous batch (the senders it answered are coming back)."""
        target = self._max_batch if self._flushes else self._last_size
        if not self._linger or self._closing or len(self._queue) >= target:
            return
        self._gather = target
        self._gathered.clear()
        try:
            async with asyncio.timeout(self._linger):
                await self._gathered.wait()
        except TimeoutError:
            pass
        finally:
            self._gather = 0

    def _flushed(self, task: asyncio.Task) -> None:
        self._flushes.discard(task)
        self._slots.release()

    async def _flush(self, batch: list[tuple[Verified, asyncio.Future]]) -> None:
        deliveries = [delivery for delivery, _ in batch]
        try:
            outcomes = await self._commit(deliveries)
        except _PublishFailed as exc:
            log.warning("kafka publish failed; batch rolled back", deliveries=len(batch), error=str(exc))
            DELIVERIES.labels("kafka_unavailable").inc(len(batch))
            self._fail(batch, _kafka_unavailable)
            return
        except Exception as exc:  # Postgres (or anything else) failed: nothing of the batch is committed
            log.error("recording a batch failed; batch rolled back", deliveries=len(batch),
                      error=type(exc).__name__, exc_info=True)
            DELIVERIES.labels("database_unavailable").inc(len(batch))
            self._fail(batch, _database_unavailable)
            return
        for (_, future), outcome in zip(batch, outcomes):
            if not future.done():
                future.set_result(outcome)

    @staticmethod
    def _fail(batch: list[tuple[Verified, asyncio.Future]], problem) -> None:
        for _, future in batch:
            if not future.done():
                future.set_exception(problem())  # one exception object per request: each gets its own traceback

    async def _commit(self, deliveries: list[Verified]) -> list[Outcome]:
        candidates: dict[tuple[uuid.UUID, str], Verified] = {}
        for delivery in deliveries:
            candidates.setdefault(delivery.key, delivery)  # a second copy in the same batch is a duplicate
        ordered = sorted(candidates.values(), key=lambda d: d.key)
        async with self._pool.acquire() as conn, conn.transaction():
            inserted = await repo.insert_accepted(
                conn, [(d.installation_id, d.org_id, d.delivery_id, d.payload_sha256, d.replay_key, d.event_count)
                       for d in ordered])
            accepted = [d for d in ordered if d.key in inserted]
            is_accepted = {id(d) for d in accepted}
            duplicates = [d for d in deliveries if id(d) not in is_accepted]
            await repo.insert_duplicates(
                conn, [(d.installation_id, d.org_id, d.delivery_id, d.payload_sha256) for d in duplicates],
                reason=DUPLICATE_REASON)
            if accepted:
                try:
                    # acks=all: returns only once every event is durably in Kafka. (asyncio.timeout,
                    # not wait_for: no extra task per batch.)
                    async with asyncio.timeout(self._timeout):
                        await kafka.publish_batch(self._broker, [m for d in accepted for m in d.messages])
                except Exception as exc:
                    raise _PublishFailed(type(exc).__name__) from exc  # leaving the block rolls the batch back
        BATCH_SIZE.observe(len(deliveries))
        DELIVERIES.labels("accepted").inc(len(accepted))
        if duplicates:
            DELIVERIES.labels("duplicate").inc(len(duplicates))
        log.info("webhook deliveries committed", deliveries=len(deliveries), accepted=len(accepted),
                 duplicates=len(duplicates))
        return [Outcome(202, {"status": "accepted", "delivery_id": d.delivery_id, "events": d.event_count})
                if id(d) in is_accepted else Outcome(200, {"status": "duplicate", "delivery_id": d.delivery_id})
                for d in deliveries]
