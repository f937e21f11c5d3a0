import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from aria_catalog.installs import service as installs
from aria_catalog.registry_sync import service as registry_sync
from aria_contracts.events import (InstallationConfigured, InstallationDisabled, InstallationEnabled,
                                   InstallationInstalled, InstallationUninstalled)
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

        # A Try-demo sandbox is not an install.
        demo_inst = uuid.uuid4()
        partition, offset = await kafka.publish(TOPIC, traced(InstallationInstalled(
            installation_id=demo_inst, org_id=org, integration_key=key, revision=1, actor="user-1", demo=True),
            source="installer", org_id=org, installation_id=demo_inst))
        assert await h.consumed(infra, group, TOPIC, partition, offset)
        assert await count() == 1, "a demo is not counted"

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


async def test_average_setup_time_uses_event_times_whatever_the_arrival_order(infra, kafka_topics, h):
    database = await h.new_database(infra)
    key, org = f"st_{uuid.uuid4().hex[:10]}", uuid.uuid4()
    a, b, only_installed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    start = datetime.now(UTC) - timedelta(days=3)  # events are read long after they happened
    app, client_cm = h.app_client(infra, database)

    def at(model, inst, revision, minutes, **extra):
        envelope = traced(model(installation_id=inst, org_id=org, integration_key=key, revision=revision,
                                actor="user-1", **extra), source="installer", org_id=org, installation_id=inst)
        return envelope.model_copy(update={"time": start + timedelta(minutes=minutes)})

    def enabled(inst, revision, minutes):
        return at(InstallationEnabled, inst, revision, minutes, config_version=1, settings={}, credential_ref=None,
                  sync_frequency="hourly")

    async def setup():
        r = await client.get(f"/v1/integrations/{key}", headers=h.as_user(infra, org))
        stats = r.json()["usage_stats"]
        return stats["average_setup_time_s"], stats["setup_installations"]

    async with client_cm as client, h.Publisher(infra) as kafka:
        group = app.state.runtime.settings.group("catalog.install-counts")
        await registry_sync.sync_catalog(pool=app.state.runtime.pool, entries=[h.entry(key, "Setup", "Setup")])
        assert await setup() == (None, 0)
        # a: enabled arrives before installed; disabled and enabled again later (not a new setup).
        await kafka.publish(TOPIC, enabled(a, 3, minutes=10))
        await kafka.publish(TOPIC, at(InstallationInstalled, a, 1, minutes=0))
        await kafka.publish(TOPIC, at(InstallationDisabled, a, 4, minutes=50))
        await kafka.publish(TOPIC, enabled(a, 5, minutes=60))
        # b: in order, 20 minutes.
        await kafka.publish(TOPIC, at(InstallationInstalled, b, 1, minutes=5))
        await kafka.publish(TOPIC, enabled(b, 3, minutes=25))
        # Installed but never enabled: not a completed setup.
        await kafka.publish(TOPIC, at(InstallationInstalled, only_installed, 1, minutes=0))
        assert await h.eventually(setup, (900.0, 2)) == (900.0, 2), "(10 + 20) / 2 minutes, over 2 installations"

        await kafka.publish(TOPIC, enabled(b, 3, minutes=25))  # redelivered
        partition, offset = await kafka.publish(TOPIC, at(InstallationInstalled, b, 1, minutes=5))  # same partition
        assert await h.consumed(infra, group, TOPIC, partition, offset)
        assert await setup() == (900.0, 2), "redeliveries change nothing"
