import uuid

import asyncpg
import orjson

from aria_catalog.registry_sync import service as registry_sync
from aria_platform.db import create_pool


async def _rows(database, sql, *args):
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def test_sync_is_idempotent_records_versions_and_deprecates_removed_keys(infra, kafka_topics, h):
    database = await h.new_database(infra)
    pool = await create_pool(database)
    try:
        entries = [h.entry("alpha_edr", "Alpha EDR", "Alpha"), h.entry("beta_siem", "Beta SIEM", "Beta",
                                                                         category="siem")]
        first = await registry_sync.sync_catalog(pool=pool, entries=entries)
        assert sorted(first.added) == ["alpha_edr", "beta_siem"]
        before = {r["key"]: r["updated_at"] for r in await _rows(database, "SELECT key, updated_at FROM integration_catalog")}

        second = await registry_sync.sync_catalog(pool=pool, entries=entries)
        assert not second.changed and sorted(second.unchanged) == ["alpha_edr", "beta_siem"]
        after = {r["key"]: r["updated_at"] for r in await _rows(database, "SELECT key, updated_at FROM integration_catalog")}
        assert after == before, "an unchanged registry writes nothing"
        assert len(await _rows(database, "SELECT 1 FROM catalog_versions")) == 2

        bumped = [h.entry("alpha_edr", "Alpha EDR", "Alpha", version="1.1.0"), entries[1]]
        third = await registry_sync.sync_catalog(pool=pool, entries=bumped)
        assert third.version_changed == ["alpha_edr"] and third.unchanged == ["beta_siem"]
        history = await registry_sync.history(pool=pool, key="alpha_edr")
        assert [(r["change"], r["version"], r["previous_version"]) for r in history] == [
            ("added", "1.0.0", None), ("version_changed", "1.1.0", "1.0.0")]

        fourth = await registry_sync.sync_catalog(pool=pool, entries=bumped[:1])
        assert fourth.removed == ["beta_siem"]
        beta = (await _rows(database, "SELECT is_deprecated, removed_at, version FROM integration_catalog "
                                      "WHERE key = 'beta_siem'"))[0]
        assert beta["is_deprecated"] and beta["removed_at"] is not None and beta["version"] == "1.0.0"
        assert not (await registry_sync.sync_catalog(pool=pool, entries=bumped[:1])).changed

        # Coming back restores it (not deprecated unless its manifest says so).
        fifth = await registry_sync.sync_catalog(pool=pool, entries=bumped)
        assert fifth.restored == ["beta_siem"]
        beta = (await _rows(database, "SELECT is_deprecated, removed_at FROM integration_catalog WHERE key = 'beta_siem'"))[0]
        assert not beta["is_deprecated"] and beta["removed_at"] is None
        assert [r["change"] for r in await registry_sync.history(pool=pool, key="beta_siem")] == [
            "added", "removed", "restored"]
    finally:
        await pool.close()


async def test_sync_tolerates_optional_keys_and_rejects_bad_entries(infra, kafka_topics, h):
    database = await h.new_database(infra)
    pool = await create_pool(database)
    try:
        minimal = {"key": "minimal_one", "name": "Minimal", "vendor": "Min", "category": "custom", "version": "0.1.0"}
        report = await registry_sync.sync_catalog(pool=pool, entries=[minimal, {"key": "Bad Key!"}, {"name": "x"}])
        assert report.added == ["minimal_one"] and len(report.skipped) == 2
        row = (await _rows(database, "SELECT * FROM integration_catalog WHERE key = 'minimal_one'"))[0]
        assert row["capabilities"] == [] and row["supports_webhooks"] is False and row["config_schema"] == "{}"
        # An empty registry (packaging fault) deprecates nothing.
        assert not (await registry_sync.sync_catalog(pool=pool, entries=[])).removed
    finally:
        await pool.close()


async def test_service_start_syncs_from_the_connector_registry(infra, kafka_topics, h):
    from aria_connectors import registry

    expected = set(registry.discover())
    assert expected, "the connector registry should ship at least one connector"
    database = await h.new_database(infra)
    _, client_cm = h.app_client(infra, database, registry_sync_on_start=True)
    async with client_cm:
        keys = {r["key"] for r in await _rows(database, "SELECT key FROM integration_catalog WHERE NOT is_deprecated")}
    assert keys == expected
    # A second start changes nothing.
    _, client_cm = h.app_client(infra, database, registry_sync_on_start=True)
    async with client_cm:
        pass
    assert len(await _rows(database, "SELECT 1 FROM catalog_versions")) == len(expected)


async def test_every_catalog_change_is_announced_through_the_outbox(infra, kafka_topics, h):
    from aria_contracts.events import PLATFORM_ORG
    from aria_contracts.topics import CATALOG_CHANGES
    from aria_platform.testing import KafkaProbe

    database = await h.new_database(infra)
    pool = await create_pool(database)
    key = f"ev_{uuid.uuid4().hex[:8]}"
    try:
        # No relay runs here: the events sit in the outbox, written by the sync's own transaction.
        await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Events", "Ev"), h.entry(key + "_b", "B", "B")])
        rows = await _rows(database, "SELECT event_type, key, envelope FROM outbox ORDER BY id")
        assert [(r["event_type"], r["key"]) for r in rows] == [("catalog.entry_changed", key),
                                                               ("catalog.entry_changed", key + "_b")]
        envelope = orjson.loads(rows[0]["envelope"])  # a plain asyncpg connection returns jsonb as text
        assert envelope["org_id"] == str(PLATFORM_ORG) and envelope["source"] == "catalog"
        history_id = (await _rows(database, "SELECT id FROM catalog_versions WHERE integration_key = $1", key))[0]
        assert envelope["data"] == {"integration_key": key, "change": "added", "version": "1.0.0",
                                    "previous_version": None, "change_id": history_id["id"]}
        assert not (await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Events", "Ev"),
                                                                        h.entry(key + "_b", "B", "B")])).changed
        assert len(await _rows(database, "SELECT 1 FROM outbox")) == 2, "an unchanged sync announces nothing"
    finally:
        await pool.close()

    # The running service relays them, and announces what later syncs change.
    app, client_cm = h.app_client(infra, database)
    async with KafkaProbe(infra.kafka_bootstrap, CATALOG_CHANGES.name) as probe, client_cm:
        mine = lambda e: e.data["integration_key"] in (key, key + "_b")  # noqa: E731
        assert len(await probe.wait_for(mine, count=2)) == 2
        await registry_sync.sync_catalog(pool=app.state.runtime.pool,
                                         entries=[h.entry(key, "Events", "Ev", version="2.0.0")])
        changes = await probe.wait_for(mine, count=4)
        assert sorted((e.data["change"], e.data["integration_key"]) for e in changes[2:]) == [
            ("removed", key + "_b"), ("version_changed", key)]
        assert all(e.org_id == PLATFORM_ORG and e.key == e.data["integration_key"] for e in changes)
    assert len(await _rows(database, "SELECT 1 FROM outbox")) == 0


async def test_a_change_that_happens_again_is_a_new_event_not_a_duplicate(infra, h):
    database = await h.new_database(infra)
    pool = await create_pool(database)
    key = f"again_{uuid.uuid4().hex[:8]}"
    keep, comes_and_goes = h.entry(key, "Stays", "S"), h.entry(key + "_b", "Flaps", "F")
    try:
        for entries in ([keep, comes_and_goes], [keep], [keep, comes_and_goes], [keep]):
            await registry_sync.sync_catalog(pool=pool, entries=entries)
        rows = await _rows(database, "SELECT envelope FROM outbox WHERE key = $1 ORDER BY id", key + "_b")
        envelopes = [orjson.loads(r["envelope"]) for r in rows]
        assert [e["data"]["change"] for e in envelopes] == ["added", "removed", "restored", "removed"]
        assert len({e["dedup_key"] for e in envelopes}) == 4, "removed twice at 1.0.0: two distinct events"
    finally:
        await pool.close()


async def test_a_changed_tier_or_feature_list_is_an_updated_change(infra, kafka_topics, h):
    database = await h.new_database(infra)
    pool = await create_pool(database)
    key = f"tier_{uuid.uuid4().hex[:8]}"
    facts = dict(key_features=["Alerts as risks"], required_permissions=["Alerts: Read"], setup_minutes=10,
                 quality_tier="silver", quality_criteria={"manifest": "pass", "push": "n/a"},
                 push_actions=[{"name": "open", "kind": "create_ticket", "input": "risk", "description": None}])
    try:
        await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Tiered", "T", **facts)])
        assert (await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Tiered", "T", **facts)])).unchanged

        earned = {**facts, "quality_tier": "gold", "quality_criteria": {"manifest": "pass", "push": "pass"}}
        report = await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Tiered", "T", **earned)])
        assert report.updated == [key], "same version, new tier: an update"
        more = {**earned, "key_features": ["Alerts as risks", "Tickets from risks"], "setup_minutes": 15}
        assert (await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Tiered", "T", **more)])).updated

        row = (await _rows(database, "SELECT * FROM integration_catalog WHERE key = $1", key))[0]
        assert row["quality_tier"] == "gold" and orjson.loads(row["quality_criteria"])["push"] == "pass"
        assert row["key_features"] == ["Alerts as risks", "Tickets from risks"] and row["setup_minutes"] == 15
        assert row["required_permissions"] == ["Alerts: Read"]
        assert orjson.loads(row["push_actions"]) == facts["push_actions"]
        assert [r["change"] for r in await registry_sync.history(pool=pool, key=key)] == ["added", "updated", "updated"]
        events = [orjson.loads(r["envelope"])["data"] for r in
                  await _rows(database, "SELECT envelope FROM outbox WHERE key = $1 ORDER BY id", key)]
        assert [(e["change"], e["version"]) for e in events] == [("added", "1.0.0"), ("updated", "1.0.0"),
                                                                 ("updated", "1.0.0")]
        tiers = await _rows(database, "SELECT quality_tier FROM catalog_vocabulary")
        assert tiers[0]["quality_tier"] == ["gold"], "the vocabulary view is refreshed with the change"

        # A tier the catalog does not know is stored as unrated, not a rejected connector.
        odd = await registry_sync.sync_catalog(pool=pool, entries=[h.entry(key, "Tiered", "T",
                                                                           **{**more, "quality_tier": "platinum"})])
        assert odd.updated == [key]
        assert (await _rows(database, "SELECT quality_tier FROM integration_catalog"))[0]["quality_tier"] == "unrated"
    finally:
        await pool.close()
