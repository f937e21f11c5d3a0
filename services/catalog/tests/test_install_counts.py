import asyncio
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from aria_catalog.installs import service as installs
from aria_catalog.registry_sync import service as registry_sync
from aria_contracts.events import InstallationConfigured, InstallationInstalled, InstallationUninstalled
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.kafka import encode, headers_for
from aria_platform.outbox import traced

GROUP = "catalog.install-counts"


async def _count(database, key):
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval("SELECT install_count FROM integration_catalog WHERE key = $1", key)
    finally:
        await conn.close()


async def _eventually(fn, expected, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fn()
        if value == expected or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def _consumed(infra, partition: int, offset: int, timeout=30.0) -> bool:
    """True once the catalog's consumer group has committed past `offset` (it processed that record)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        tp = TopicPartition(INSTALLATION_LIFECYCLE.name, partition)
        while asyncio.get_running_loop().time() < deadline:
            committed = await admin.list_consumer_group_offsets(GROUP, partitions=[tp])
            meta = committed.get(tp)
            if meta is not None and meta.offset > offset:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await admin.close()


async def test_install_counts_from_kafka_are_exactly_once(infra, kafka_topics, h):
    database = await h.new_database(infra)
    key = f"ic_{uuid.uuid4().hex[:10]}"
    inst, org = uuid.uuid4(), uuid.uuid4()
    app, client_cm = h.app_client(infra, database)
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()

    async def publish(envelope):
        meta = await producer.send_and_wait(INSTALLATION_LIFECYCLE.name, encode(envelope), key=envelope.key.encode(),
                                            headers=[(k, v.encode()) for k, v in headers_for(envelope).items()])
        return meta.partition, meta.offset

    def envelope(model, revision, **extra):
        return traced(model(installation_id=inst, org_id=org, integration_key=key, revision=revision,
                            actor="user-1", **extra), source="installer", org_id=org, installation_id=inst)

    try:
        async with client_cm as client:
            await registry_sync.sync_catalog(pool=app.state.runtime.pool,
                                             entries=[h.entry(key, "Install Count Probe", "Probe")])
            installed = envelope(InstallationInstalled, 1)
            await publish(installed)
            assert await _eventually(lambda: _count(database, key), 1) == 1
            partition, offset = await publish(installed)  # the same envelope again: a redelivery
            assert await _consumed(infra, partition, offset)
            assert await _count(database, key) == 1, "a redelivered installed event counts once"

            # Other lifecycle events are not counted.
            partition, offset = await publish(envelope(InstallationConfigured, 2, config_version=1, config_hash="h",
                                                       settings={}, credential_ref=None))
            assert await _consumed(infra, partition, offset)
            assert await _count(database, key) == 1

            uninstalled = envelope(InstallationUninstalled, 3)
            await publish(uninstalled)
            assert await _eventually(lambda: _count(database, key), 0) == 0
            partition, offset = await publish(uninstalled)
            partition, offset = await publish(installed)  # late, older revision: stale
            assert await _consumed(infra, partition, offset)
            assert await _count(database, key) == 0

            r = await client.get("/v1/integrations/" + key, headers=h.as_user(infra, org))
            assert r.json()["install_count"] == 0 and r.json()["installed"] is False
    finally:
        await producer.stop()


async def test_ledger_orders_by_revision_and_counts_before_the_catalog_knows_the_key(infra, kafka_topics, h):
    from aria_platform.db import create_pool

    database = await h.new_database(infra)
    pool = await create_pool(database)
    key, org = "late_connector", uuid.uuid4()
    try:
        a, b = uuid.uuid4(), uuid.uuid4()
        # Events for a connector the catalog has not synced yet: kept in the ledger.
        assert await installs.record_installation_state(pool=pool, installation_id=a, org_id=org, integration_key=key,
                                                        installed=True, revision=1) == "counted"
        assert await installs.record_installation_state(pool=pool, installation_id=b, org_id=org, integration_key=key,
                                                        installed=False, revision=4) == "unchanged"
        assert await installs.record_installation_state(pool=pool, installation_id=b, org_id=org, integration_key=key,
                                                        installed=True, revision=1) == "stale"
        await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Late", "Late")])
        assert await _count(database, key) == 1, "install_count starts from the ledger"
        # Concurrent installs of the same integration all count.
        await asyncio.gather(*(installs.record_installation_state(
            pool=pool, installation_id=uuid.uuid4(), org_id=org, integration_key=key, installed=True, revision=1)
            for _ in range(8)))
        assert await _count(database, key) == 9
    finally:
        await pool.close()
