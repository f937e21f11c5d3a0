"""The outbox relay with several replicas: every replica relays the one outbox of its service, and
consumers rely on each key's events reaching Kafka in the order they were written."""

import asyncio
import random
import threading
import uuid
from contextlib import AsyncExitStack, asynccontextmanager

import pytest
from faststream.exceptions import IncorrectState

from aria_contracts import Envelope
from aria_contracts.events import PLATFORM_ORG, CatalogEntryChanged
from aria_platform.db import create_pool
from aria_platform.kafka import create_broker
from aria_platform.outbox import RELAY_LOCK, OutboxRelay, enqueue
from aria_platform.testing import KafkaProbe, migrated_database

# Catalog change events: keyed (integration key) and numbered (change id), and read by no service,
# so the thousands these tests publish are not replayed by every new consumer group of the
# installation lifecycle.
TOPIC = "aria.catalog.changes"


@pytest.fixture
async def database(infra, kafka_topics, tmp_path):
    return await migrated_database(infra, "relay", tmp_path)  # the platform's tables only


def event(key: str, change: int) -> Envelope:
    """The `change`-th event of a key, in the order it was written."""
    return Envelope.wrap(CatalogEntryChanged(integration_key=key, change="updated", version=str(change),
                                             change_id=change),
                         source="test", org_id=PLATFORM_ORG)


def new_keys(count: int) -> list[str]:
    return [f"relay-test-{uuid.uuid4().hex[:12]}" for _ in range(count)]


async def write(pool, envelopes: list[Envelope]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for envelope in envelopes:
            await enqueue(conn, envelope)


async def outbox_size(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox")


@asynccontextmanager
async def replica(infra, database, *, connected: bool = True, running: bool = True, batch: int = 20):
    """One replica's relay: its own pool and producer, started as a service starts it (unless not
    `running`). Small batches, so relays take many interleaved batches. `connected=False`: a replica
    that lost Kafka, whose every pass takes a batch and fails to publish it (its transaction rolled
    back)."""
    async with AsyncExitStack() as stack:
        pool = await create_pool(database, max_size=3)
        stack.push_async_callback(pool.close)
        broker = create_broker(infra.kafka_bootstrap, client_id=f"relay-test-{uuid.uuid4().hex[:6]}")
        if connected:
            await broker.start()
            stack.push_async_callback(broker.stop)
        relay = OutboxRelay(pool, broker, poll_interval_s=0.05, batch=batch)
        stack.push_async_callback(relay.stop)
        if running:
            await relay.start()
        yield relay


def changes_on_kafka(probe: KafkaProbe, keys: set[str]) -> dict[str, list[int]]:
    """Each key's change numbers in the order Kafka delivered them, the first delivery of each
    (consumers drop redeliveries through their dedup keys, so a redelivery's position does not matter)."""
    seen: dict[str, list[int]] = {key: [] for key in keys}
    for _, envelope, _ in probe.seen:
        got = seen.get(envelope.key)
        if got is not None and envelope.data["change_id"] not in got:
            got.append(envelope.data["change_id"])
    return seen


def assert_in_order(seen: dict[str, list[int]], count: int) -> None:
    for key, changes in seen.items():
        misplaced = next((i for i, c in enumerate(changes, 1) if c != i), None)
        assert changes == list(range(1, count + 1)), (
            f"{key}: {len(changes)} of {count} events, first out of place at #{misplaced}: "
            f"{changes[max(0, (misplaced or 1) - 3):(misplaced or 1) + 3]}")


async def wait_until_relayed(probe: KafkaProbe, pool, keys: set[str], total: int) -> dict[str, list[int]]:
    await probe.wait_for(lambda e: e.key in keys, count=total, timeout=60)
    await probe.drain(0.5)  # anything published twice arrives too
    assert await outbox_size(pool) == 0
    return changes_on_kafka(probe, keys)


@asynccontextmanager
async def replicas(infra, database, *options: dict):
    """Relays of several replicas (`replica(**options)` each), every one in a thread with its own
    event loop: as in separate processes, a relay's pass can stall (the interpreter switches
    threads) between taking its batch and sending it, while another relay runs."""
    done = threading.Event()

    def run(relay_options: dict) -> None:
        async def serve() -> None:
            async with replica(infra, database, **relay_options):
                while not done.is_set():
                    await asyncio.sleep(0.05)
        asyncio.run(serve())

    threads = [asyncio.create_task(asyncio.to_thread(run, o)) for o in options]
    try:
        yield
    finally:
        done.set()
        await asyncio.gather(*threads)


@pytest.fixture
async def pool(database):
    pool = await create_pool(database, max_size=3)
    yield pool
    await pool.close()


@pytest.fixture
async def probe(infra):
    async with KafkaProbe(infra.kafka_bootstrap, TOPIC) as probe:
        yield probe


async def test_two_replicas_relays_publish_each_keys_events_in_order(infra, database, pool, probe):
    keys = new_keys(4)
    per_key = 250
    # Batches of different sizes (the default and a small one): without one relay at a time, a
    # small batch taken after a large one is sent and acknowledged first.
    async with replicas(infra, database, {"batch": 200}, {"batch": 10}):
        # Written while both relays run, in small transactions of a few keys' next events, as
        # requests on several replicas would: every commit wakes both relays.
        written = dict.fromkeys(keys, 0)
        rng = random.Random(5)
        while any(n < per_key for n in written.values()):
            envelopes = []
            for key in rng.sample(keys, 2):
                for _ in range(min(rng.randint(1, 5), per_key - written[key])):
                    written[key] += 1
                    envelopes.append(event(key, written[key]))
            await write(pool, envelopes)
        seen = await wait_until_relayed(probe, pool, set(keys), len(keys) * per_key)
    assert_in_order(seen, per_key)


async def test_a_relay_finds_another_publishing_and_takes_nothing_until_it_is_done(infra, database, pool, probe):
    [key] = new_keys(1)
    await write(pool, [event(key, change) for change in (1, 2, 3)])
    async with replica(infra, database, running=False, batch=2) as relay:
        async with pool.acquire() as other, other.transaction():
            # Another replica's relay in the middle of its pass holds the relay lock.
            await other.execute("SELECT pg_advisory_xact_lock($1)", RELAY_LOCK)
            assert await relay.relay_once() == 0
            assert await outbox_size(pool) == 3
        assert [await relay.relay_once() for _ in range(3)] == [2, 1, 0]
    assert_in_order(await wait_until_relayed(probe, pool, {key}, 3), 3)


async def test_a_relay_dying_mid_pass_leaves_its_batch_to_the_other_replica(infra, database, pool, probe):
    keys = new_keys(3)
    per_key = 400
    await write(pool, [event(key, change) for change in range(1, per_key + 1) for key in keys])
    async with replica(infra, database, connected=False, running=False) as dying:
        # Its pass takes the first batch, then fails to publish it: the delete rolls back.
        with pytest.raises(IncorrectState, match="connect broker"):
            await dying.relay_once()
    assert await outbox_size(pool) == len(keys) * per_key
    # It keeps taking large batches and dying while a healthy replica's relay drains the outbox.
    async with replicas(infra, database, {"connected": False, "batch": 1000}, {"batch": 5}):
        seen = await wait_until_relayed(probe, pool, set(keys), len(keys) * per_key)
    assert_in_order(seen, per_key)
