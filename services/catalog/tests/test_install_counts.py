import asyncio
import uuid

from aria_catalog.installs import service as installs
from aria_catalog.registry_sync import service as registry_sync
from aria_contracts.events import InstallationConfigured, InstallationInstalled, InstallationUninstalled
from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.outbox import traced

TOPIC = INSTALLATION_LIFECYCLE.name
COUNT_SQL = "SELECT install_count FROM integration_catalog WHERE key = $1"


async def test_install_counts_from_kafka_are_exactly_once(infra, kafka_topics, h):
    database = await h.new_database(infra)
    key = f"ic_{uuid.uuid4().hex[:10]}"
    inst, org = uuid.uuid4(), uuid.uuid4()
    app, client_cm = h.app_client(infra, database)

    def count():
        return h.fetchval(database, COUNT_SQL, key)

    def envelope(model, revision, **extra):
        return traced(model(installation_id=inst, org_id=org, integration_key=key, revision=revision,
                            actor="user-1", **extra), source="installer", org_id=org, installation_id=inst)

    async with client_cm as client, h.Publisher(infra) as kafka:
        group = app.state.runtime.settings.group("catalog.install-counts")
        await registry_sync.sync_catalog(pool=app.state.runtime.pool,
                                         entries=[h.entry(key, "Install Count Probe", "Probe")])
        installed = envelope(InstallationInstalled, 1)
        await kafka.publish(TOPIC, installed)
        assert await h.eventually(count, 1) == 1
        partition, offset = await kafka.publish(TOPIC, installed)  # the same envelope again: a redelivery
        assert await h.consumed(infra, group, TOPIC, partition, offset)
        assert await count() == 1, "a redelivered installed event counts once"

        # Other lifecycle events are not counted.
        partition, offset = await kafka.publish(TOPIC, envelope(InstallationConfigured, 2, config_version=1,
                                                                config_hash="h", settings={}, credential_ref=None))
        assert await h.consumed(infra, group, TOPIC, partition, offset)
        assert await count() == 1

        uninstalled = envelope(InstallationUninstalled, 3)
        await kafka.publish(TOPIC, uninstalled)
        assert await h.eventually(count, 0) == 0
        await kafka.publish(TOPIC, uninstalled)
        partition, offset = await kafka.publish(TOPIC, installed)  # late, older revision: stale
        assert await h.consumed(infra, group, TOPIC, partition, offset)
        assert await count() == 0

        r = await client.get("/v1/integrations/" + key, headers=h.as_user(infra, org))
        assert r.json()["install_count"] == 0 and r.json()["installed"] is False


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
        assert await h.fetchval(database, COUNT_SQL, key) == 1, "install_count starts from the ledger"
        # Concurrent installs of the same integration all count.
        await asyncio.gather(*(installs.record_installation_state(
            pool=pool, installation_id=uuid.uuid4(), org_id=org, integration_key=key, installed=True, revision=1)
            for _ in range(8)))
        assert await h.fetchval(database, COUNT_SQL, key) == 9
    finally:
        await pool.close()
