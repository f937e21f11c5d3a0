import uuid
from datetime import UTC, datetime

from aria_catalog.registry_sync import service as registry_sync
from aria_contracts.events import SyncCompleted, SyncFailed, SyncStarted
from aria_contracts.topics import SYNC_JOBS
from aria_platform.outbox import traced

TOPIC = SYNC_JOBS.name
ROLLUP = """SELECT calls, successes, failures, total_duration_ms, records_synced, failed_records, published_events,
                   avg_response_time_ms::float, error_rate::float, uptime_pct::float, estimated_cost::text
              FROM integration_usage_analytics WHERE installation_id = $1"""


async def test_sync_outcomes_roll_up_per_installation_day_exactly_once(infra, kafka_topics, h):
    database = await h.new_database(infra)
    key = f"us_{uuid.uuid4().hex[:10]}"
    org, inst, other_inst = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    app, client_cm = h.app_client(infra, database)

    def envelope(model, installation_id=inst, **fields):
        return traced(model(installation_id=installation_id, org_id=org, integration_key=key, job_id=uuid.uuid4(),
                            **fields), source="sync-runner", org_id=org, installation_id=installation_id)

    def completed(records, duration_ms, installation_id=inst):
        return envelope(SyncCompleted, installation_id, processed_records=records, published_events=records,
                        failed_records=1, duration_ms=duration_ms)

    async with client_cm as client, h.Publisher(infra) as kafka:
        group = app.state.runtime.settings.group("catalog.usage-analytics")
        await registry_sync.sync_catalog(pool=app.state.runtime.pool, entries=[h.entry(key, "Usage", "Usage")])
        first = completed(1000, 4000)
        await kafka.publish(TOPIC, first)
        await kafka.publish(TOPIC, completed(3000, 2000))
        await kafka.publish(TOPIC, envelope(SyncFailed, error_class="transient", error_message="vendor 503"))
        await kafka.publish(TOPIC, envelope(SyncStarted, sync_type="full"))  # not a finished run
        await kafka.publish(TOPIC, completed(500, 1000, installation_id=other_inst))

        # The topic holds other runs' history too: count only this integration's.
        calls = lambda: h.fetchval(database, "SELECT sum(calls)::int FROM integration_usage_analytics "  # noqa: E731
                                             "WHERE integration_key = $1", key)
        assert await h.eventually(calls, 4) == 4
        partition, offset = await kafka.publish(TOPIC, first)  # redelivered
        assert await h.consumed(infra, group, TOPIC, partition, offset)

        conn_row = await app.state.runtime.pool.fetchrow(ROLLUP, inst)
        assert dict(conn_row) == {
            "calls": 3, "successes": 2, "failures": 1, "total_duration_ms": 6000, "records_synced": 4000,
            "failed_records": 2, "published_events": 4000, "avg_response_time_ms": 3000.0,
            "error_rate": 0.3333, "uptime_pct": 66.67, "estimated_cost": "0.200000"}
        day = await h.fetchval(database, "SELECT day FROM integration_usage_analytics WHERE installation_id = $1", inst)
        assert day == datetime.now(UTC).date()

        stats = (await client.get(f"/v1/integrations/{key}", headers=h.as_user(infra, org))).json()["usage_stats"]
        assert stats == {"window_days": 30, "active_installations": 2, "calls_per_day": 2.0,
                         "sync_interval_minutes": 720.0, "average_sync_duration_ms": round(7000 / 3, 1),
                         "records_synced_per_day": 2250.0, "error_rate": 0.25, "success_rate_pct": 75.0,
                         "average_setup_time_s": None, "setup_installations": 0}
        assert await calls() == 4, "the redelivery changed nothing"
