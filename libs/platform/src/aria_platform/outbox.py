"""Transactional outbox and idempotent-consumer inbox, shared by every service.

A service writes its state change and `enqueue()`s the announcing event in the same
transaction. `OutboxRelay` publishes committed rows to Kafka (acks=all) and deletes them in
the transaction that locked them, so a crash before the delete republishes (at least once)
and a crash before the commit of the state change publishes nothing. Consumers make the
at-least-once delivery exactly-once in effect with `claim()`.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from faststream.kafka import KafkaBroker
from opentelemetry import context, propagate, trace

from aria_contracts import Envelope, EventPayload

from . import kafka
from .metrics import OUTBOX_PUBLISHED

log = structlog.get_logger(__name__)
NOTIFY_CHANNEL = "aria_outbox"


def traced(payload: EventPayload, *, source: str, org_id, installation_id=None) -> Envelope:
    """Wrap a payload in an envelope carrying the current W3C trace context."""
    headers = kafka.current_trace_headers()
    return Envelope.wrap(
        payload, source=source, org_id=org_id, installation_id=installation_id,
        traceparent=headers.get("traceparent"), tracestate=headers.get("tracestate"),
    )


async def enqueue(conn: asyncpg.Connection, envelope: Envelope) -> None:
    """Add an event to the outbox; call inside the transaction that makes the state change."""
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, event_type, envelope)
           VALUES ($1, $2, $3, $4, $5)""",
        envelope.event_id, kafka.topic_for(envelope), envelope.key, envelope.type, envelope.model_dump(mode="json"),
    )
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


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
            try:
                sent = await self.relay_once()
            except Exception:  # Kafka or Postgres down: keep the rows, try again shortly.
                log.exception("outbox relay failed; retrying")
                sent = 0
                await asyncio.sleep(self._poll)
            if sent == 0 and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)

    async def relay_once(self) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT id, envelope FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", self._batch
            )
            if not rows:
                return 0
            envelopes = [Envelope.model_validate(r["envelope"]) for r in rows]
            # Ordering per key matters (lifecycle events), so publish sequentially per batch.
            for envelope in envelopes:
                with _in_trace(envelope):
                    await kafka.publish(self._broker, envelope)
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
        OUTBOX_PUBLISHED.inc(len(rows))
        return len(rows)


@contextlib.contextmanager
def _in_trace(envelope: Envelope):
    """Publish in the trace of the request that produced the event, not the relay's."""
    carrier = {"traceparent": envelope.traceparent} if envelope.traceparent else {}
    token = context.attach(propagate.extract(carrier)) if carrier else None
    try:
        with trace.get_tracer(__name__).start_as_current_span(f"outbox publish {envelope.type}"):
            yield
    finally:
        if token is not None:
            context.detach(token)
