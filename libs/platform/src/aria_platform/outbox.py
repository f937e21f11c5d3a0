"""Transactional outbox and idempotent-consumer inbox, shared by every service.

A service writes its state change and `enqueue()`s the announcing event in the same
transaction. `OutboxRelay` locks and deletes committed rows, publishes them to Kafka (acks=all)
and commits the delete only once Kafka acknowledged them, so a crash before that commit
republishes (at least once) and a crash before the commit of the state change publishes nothing. Consumers make the
at-least-once delivery exactly-once in effect with `claim()`.

Per-key order with several replicas: every replica runs a relay on the service's one outbox, and
two relays each taking a batch at once (SKIP LOCKED hands them different rows) could have the
later batch acknowledged first, i.e. an installation's event N+1 on Kafka before its event N.
So a pass publishes only while it holds a transaction-scoped advisory lock (`RELAY_LOCK`): one
relay at a time per outbox, each batch acknowledged and its delete committed before the next
batch is taken. Why this and not a per-key rule (take only rows whose key has no earlier row in
another relay's batch): the outbox carries lifecycle, job and health events (bulk entity events
are published directly), and one relay publishes up to a batch of 200 per Kafka round trip, so
relays publishing in parallel would buy nothing, while the rule costs an anti-join per pass and
an index, and the ordering would rest on a subtler query. The lock is taken in the pass's one
statement (no extra round trip on one replica) and is released with the transaction, also when
a relay dies mid-pass (its delete rolled back): the next pass of any relay takes the same rows.
A relay that finds the lock held takes nothing and waits: the holder got the same NOTIFY and
passes again (see `_run`), and the poll interval bounds the wait if the holder fails. The price:
a relay stuck mid-pass (Kafka not answering it) holds the others up until its pass fails (the
producer's request timeout) or its connection is gone, where they used to publish past its batch,
out of order.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from faststream.kafka import KafkaBroker

from aria_contracts import Envelope, EventPayload

from . import kafka
from .metrics import OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)
NOTIFY_CHANNEL = "aria_outbox"
RELAY_LOCK = 7340002  # advisory lock key (per database, i.e. per service): one relay publishes at a time


def traced(payload: EventPayload, *, source: str, org_id, installation_id=None) -> Envelope:
    """Wrap a payload in an envelope carrying the current W3C trace context."""
    headers = kafka.current_trace_headers()
    return Envelope.wrap(
        payload, source=source, org_id=org_id, installation_id=installation_id,
        traceparent=headers.get("traceparent"), tracestate=headers.get("tracestate"),
    )


async def enqueue(conn: asyncpg.Connection, envelope: Envelope) -> None:
    """Add an event to the outbox; call inside the transaction that makes the state change."""
    # The row and the relay's wake-up in one round trip (pg_notify, like NOTIFY, is sent at commit).
    await conn.execute(
        f"""WITH queued AS (
                INSERT INTO outbox (event_id, topic, key, event_type, envelope) VALUES ($1, $2, $3, $4, $5)
                RETURNING 1)
            SELECT pg_notify('{NOTIFY_CHANNEL}', '') FROM queued""",
        envelope.event_id, kafka.topic_for(envelope), envelope.key, envelope.type, envelope.model_dump(mode="json"),
    )


async def claim(conn: asyncpg.Connection, *, consumer: str, dedup_key: str) -> bool:
    """True the first time a consumer sees this event; False on a redelivery."""
    row = await conn.fetchval(
        """INSERT INTO processed_events (consumer, dedup_key) VALUES ($1, $2)
           ON CONFLICT DO NOTHING RETURNING 1""",
        consumer, dedup_key,
    )
    return row is not None


class OutboxRelay:
    """Publishes outbox rows in commit order; wakes on NOTIFY, polls as a fallback."""

    def __init__(self, pool: asyncpg.Pool, broker: KafkaBroker, *, poll_interval_s: float = 1.0, batch: int = 200):
        self._pool = pool
        self._broker = broker
        self._poll = poll_interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._listener: asyncpg.Connection | None = None

    async def start(self) -> None:
        self._listener = await self._pool.acquire()
        await self._listener.add_listener(NOTIFY_CHANNEL, self._on_notify)
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self, *, timeout_s: float = 10.0) -> None:
        """Finish the batch in flight, then stop; past the timeout its transaction is abandoned
        (rolled back), so the batch is published again by the next relay: nothing is lost."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout_s)
            except asyncio.TimeoutError:
                log.warning("outbox relay did not finish its batch in time; it will be republished")
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.remove_listener(NOTIFY_CHANNEL, self._on_notify)
            await self._pool.release(self._listener)

    def _on_notify(self, *_args) -> None:
        self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the pass: a NOTIFY that arrives during it wakes the next one at once.
            # A pass that found less than a full batch found everything committed before it began
            # (or found another relay holding the lock: that relay got the same NOTIFYs and passes
            # again), so the relay then waits for the next NOTIFY (or the poll) instead of one
            # more, empty, pass per event.
            self._wake.clear()
            try:
                sent = await self.relay_once()
            except Exception:  # Kafka or Postgres down: keep the rows, try again shortly.
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(self._poll)
            if sent < self._batch and not self._stopping:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def relay_once(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            # Locked and deleted in one statement; the delete commits only after Kafka acknowledged
            # the batch (an error or a crash before that rolls it back: the rows stay). The relay
            # lock is tried first, once (an InitPlan gating the scan): without it, no row is read
            # or locked. Under it, the rows another relay deleted and committed since this
            # statement's snapshot are skipped (deleted), and nothing is in flight anywhere else.
            rows = await conn.fetch(
                """WITH relay AS (SELECT pg_try_advisory_xact_lock($2) AS alone)
                   DELETE FROM outbox WHERE id IN (
                       SELECT id FROM outbox WHERE (SELECT alone FROM relay)
                       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
                   RETURNING id, envelope""", self._batch, RELAY_LOCK
            )
            if not rows:
                return 0
            # One producer batch, acknowledged as a whole (acks=all). Ordering per key (lifecycle
            # events) holds: the events are appended in id order (RETURNING has no order of its
            # own), a key always goes to the same partition, whose messages the idempotent
            # producer keeps in order, and no other relay publishes until this batch is
            # acknowledged and committed (the relay lock). Each event's headers carry the trace
            # context of the request that wrote it.
            rows = sorted(rows, key=lambda r: r["id"])
            await kafka.publish_batch(
                self._broker, [kafka.outgoing(Envelope.model_validate(r["envelope"])) for r in rows])
        OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)
