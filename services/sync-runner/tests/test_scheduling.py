"""Jobs as a Postgres queue: one replica per job, takeover after a crash, schedules from the lifecycle topic,
priorities and concurrency limits, cancel, dead letters and health events."""

import asyncio
import uuid
from datetime import datetime
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest

from aria_contracts import Envelope
from aria_contracts.events import InstallationDisabled, InstallationEnabled
from aria_platform.app import create_app
from aria_platform.db import create_pool
from aria_platform.testing import KafkaProbe, migrated_database, running_app

JOBS = "aria.sync.jobs"
ENTITIES = ("aria.entity.risk", "aria.entity.asset")


@pytest.fixture(scope="module")
async def database(infra, kafka_topics, support):
    return await migrated_database(infra, "sync_runner_sched", support.MIGRATIONS)


@pytest.fixture(scope="module")
def slow_simulator(support):
    """Enough records for several pages, and a vendor rate limit that makes a sync take seconds."""
    from aria_connector_testkit.simulators import create_app as create_simulator

    app = create_simulator(support.KEY, seed=5, alerts=1500, hosts=1500, client_id=support.CLIENT_ID,
                           client_secret=support.CLIENT_SECRET, rate_limit=3, rate_window_seconds=1)
    with support.serve_in_thread(app, name="slow-falcon-simulator") as url:
        yield url


@asynccontextmanager
async def replica(infra, settings, support, *, pin=True):
    """One sync-runner replica in this process: (its client, its worker)."""
    from aria_sync_runner.main import define

    if pin:  # not while another replica is in the group: it is already at the end
        await support.pin_groups(infra, settings)
    app = create_app(define(settings))
    async with running_app(app) as client:
        yield client, app.state.runtime.extras["worker"]


async def final_job(client, infra, support, installation_id, *, timeout=120.0) -> dict:
    """The installation's latest job in *this* runner's database once it is finished. (Every sync-runner on the
    shared broker sees every sync request, so Kafka events of an installation may come from other test runs.)"""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        items = (await client.get(f"/internal/v1/installations/{installation_id}/sync-jobs",
                                  headers=support.as_installer(infra))).json()["items"]
        if items and items[0]["status"] in ("completed", "failed", "cancelled"):
            return items[0]
        assert asyncio.get_running_loop().time() < deadline, items
        await asyncio.sleep(0.2)


def of_job(job_id):
    return lambda e: e.data.get("job_id") == str(job_id)


async def total_records(simulator) -> int:
    async with httpx.AsyncClient(base_url=simulator) as http:
        streams = (await http.get("/_sim/state")).json()["streams"]
    return sum(s["records"] for s in streams.values())


async def test_two_replicas_run_each_job_once(infra, database, vault_gateway, simulator, producer, support):
    base = support.sync_runner_settings(infra, database, vault_gateway)
    installations = [await support.new_installation(infra, vault_gateway, simulator) for _ in range(4)]
    async with replica(infra, base, support) as (client, one), replica(infra, base, support, pin=False) as (_, two):
        assert one.replica != two.replica
        async with KafkaProbe(infra.kafka_bootstrap, JOBS) as probe:
            for inst in installations:
                await support.publish(producer, support.sync_request(**inst))
            jobs = [await final_job(client, infra, support, i["installation_id"]) for i in installations]
            await probe.drain(1.0)
    assert all(j["status"] == "completed" and j["retry_count"] == 0 for j in jobs)
    for job in jobs:
        types = [e.type for _, e, _ in probe.seen if of_job(job["id"])(e)]
        assert types.count("sync.started") == 1 and types.count("sync.completed") == 1, types


async def test_a_replica_killed_mid_job_is_taken_over_from_its_checkpoint(infra, database, vault_gateway,
                                                                          slow_simulator, producer, support):
    settings = support.sync_runner_settings(infra, database, vault_gateway, sync_max_retries=3)
    inst = await support.new_installation(infra, vault_gateway, slow_simulator)
    iid = inst["installation_id"]
    expected = await total_records(slow_simulator)
    async with KafkaProbe(infra.kafka_bootstrap, JOBS, *ENTITIES) as probe:
        async with replica(infra, settings, support) as (_, first):
            await support.publish(producer, support.sync_request(**inst))
            progress = await probe.wait_for(lambda e: e.installation_id == iid and e.type == "sync.progress"
                                            and uuid.UUID(e.data["job_id"]) in first.jobs, timeout=60)
            assert progress, "the job never made progress"
            job_id = uuid.UUID(progress[0].data["job_id"])
            # The crash: the replica's loops and job stop without handing anything back.
            for task in first.loops + list(first.jobs.values()):
                task.cancel()
            await asyncio.sleep(0.1)
            conn = await asyncpg.connect(database)
            try:
                row = await conn.fetchrow("SELECT status, claimed_by FROM integration_sync_jobs WHERE id = $1", job_id)
            finally:
                await conn.close()
            assert row["status"] == "running" and row["claimed_by"] == first.replica
            async with replica(infra, settings, support, pin=False) as (client, second):
                job = await final_job(client, infra, support, iid)
                await probe.drain(1.0)
    assert job["id"] == str(job_id) and job["status"] == "completed" and job["retry_count"] == 1, job
    entities = [e for t, e, _ in probe.seen if t in ENTITIES and e.installation_id == iid]
    assert len({e.data["entity_id"] for e in entities}) == expected, "a record was lost"
    # At least once on Kafka: a batch in flight at the crash may be sent again, but with the same
    # deterministic entity id and dedup key, so downstream it is one record, not two.
    assert len({e.key for e in entities}) == expected
    assert len({e.dedup_key for e in entities}) == expected
    assert [e.type for _, e, _ in probe.seen if of_job(job_id)(e)].count("sync.started") == 1


async def test_schedules_follow_the_lifecycle_and_newer_revisions_win(infra, database, vault_gateway, simulator,
                                                                      producer, support):
    settings = support.sync_runner_settings(infra, database, vault_gateway, realtime_interval_s=1.0,
                                            health_check_interval_s=3600)
    inst = await support.new_installation(infra, vault_gateway, simulator)
    iid, org = inst["installation_id"], inst["org_id"]
    common = dict(installation_id=iid, org_id=org, integration_key=support.KEY, actor="user-test")

    def lifecycle(payload):
        return Envelope.wrap(payload, source="installer", org_id=org, installation_id=iid)

    async with replica(infra, settings, support) as (client, _):
        async with KafkaProbe(infra.kafka_bootstrap, JOBS) as probe:
            await support.publish(producer, lifecycle(InstallationEnabled(
                **common, revision=2, config_version=1, settings=inst["settings"],
                credential_ref=inst["credential_ref"], sync_frequency="realtime")))
            runs = await probe.wait_for(lambda e: e.installation_id == iid and e.type == "sync.completed"
                                        and e.data["published_events"] >= 0, count=2, timeout=30)
            assert len(runs) >= 2, "a realtime schedule syncs again after its interval"
            # An older revision arriving late changes nothing; a newer disable stops the schedule.
            await support.publish(producer, lifecycle(InstallationDisabled(**common, revision=1)))
            await support.publish(producer, lifecycle(InstallationDisabled(**common, revision=3)))
            await asyncio.sleep(1.0)
            await probe.drain(2.5)
        jobs = (await client.get(f"/internal/v1/installations/{iid}/sync-jobs",
                                 headers=support.as_installer(infra))).json()["items"]
    assert all(j["triggered_by"] == "scheduler" for j in jobs)
    conn = await asyncpg.connect(database)
    try:
        schedule = await conn.fetchrow("SELECT enabled, revision FROM sync_schedules WHERE installation_id = $1", iid)
    finally:
        await conn.close()
    assert schedule["enabled"] is False and schedule["revision"] == 3
    newest = max(datetime.fromisoformat(j["created_at"].replace("Z", "+00:00")) for j in jobs)
    await asyncio.sleep(2.0)
    conn = await asyncpg.connect(database)
    try:
        later = await conn.fetchval("SELECT count(*) FROM integration_sync_jobs WHERE installation_id = $1 "
                                    "AND created_at > $2::timestamptz", iid, newest)
    finally:
        await conn.close()
    assert later == 0


async def test_claims_respect_priority_and_concurrency_limits(infra, support):
    from aria_sync_runner.jobs import repo

    database = await migrated_database(infra, "sync_runner_claims", support.MIGRATIONS)
    pool = await create_pool(database)
    try:
        made = {}
        for name, key, priority in (("old-a", "vendor_a", 0), ("old-a2", "vendor_a", 0), ("b", "vendor_b", 0),
                                    ("urgent-a", "vendor_a", 10)):
            job = await repo.create_job(
                pool, job_id=uuid.uuid4(), org_id=uuid.uuid4(), installation_id=uuid.uuid4(), integration_key=key,
                request_id=uuid.uuid4(), sync_type="incremental", triggered_by="t", max_retries=0,
                config_version=1, priority=priority, settings={}, credential_ref=None)
            made[job["id"]] = name

        async def claim(replica, total=2, per_vendor=1):
            async with pool.acquire() as conn, conn.transaction():
                got = await repo.claim_next(conn, replica=replica, lease_s=30, max_total=total,
                                            max_per_vendor=per_vendor)
            return made[got[0]["id"]] if got else None

        assert await claim("r1") == "urgent-a"   # sync-now jumps the queue
        assert await claim("r2") == "b"          # vendor_a is at its limit of 1
        assert await claim("r1") is None         # 2 running: the global limit
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM integration_sync_jobs WHERE status = 'pending'") == 2
            await conn.execute("UPDATE integration_sync_jobs SET heartbeat_at = now() - interval '1 minute' "
                               "WHERE claimed_by = 'r1'")
        assert await claim("r3") == "urgent-a"   # r1 is gone: its job is taken over...
        async with pool.acquire() as conn:
            row = await conn.fetchrow("SELECT claimed_by, retry_count FROM integration_sync_jobs "
                                      "WHERE priority = 10")
            assert tuple(row) == ("r3", 1)       # ...and counts as a retry
            assert await repo.heartbeat(conn, next(k for k, v in made.items() if v == "urgent-a"),
                                        replica="r1") is None  # the old replica is fenced out
    finally:
        await pool.close()


async def test_cancel_pending_now_and_running_at_a_batch_boundary(infra, database, vault_gateway, simulator,
                                                                  slow_simulator, producer, support):
    idle = support.sync_runner_settings(infra, database, vault_gateway, max_concurrent_jobs=0)
    pending = await support.new_installation(infra, vault_gateway, simulator)
    async with replica(infra, idle, support) as (client, _):
        async with KafkaProbe(infra.kafka_bootstrap, JOBS) as probe:
            await support.publish(producer, support.sync_request(**pending))
            for _ in range(50):
                jobs = (await client.get(f"/internal/v1/installations/{pending['installation_id']}/sync-jobs",
                                         headers=support.as_installer(infra))).json()["items"]
                if jobs:
                    break
                await asyncio.sleep(0.1)
            assert jobs and jobs[0]["status"] == "pending"
            response = await client.post(f"/internal/v1/sync-jobs/{jobs[0]['id']}/cancel",
                                         headers=support.as_installer(infra))
            assert response.status_code == 202 and response.json()["status"] == "cancelled"
            cancelled = await probe.wait_for(of_job(jobs[0]["id"]))
            assert cancelled[0].type == "sync.cancelled" and cancelled[0].data["cancelled_by"] == "service:installer"
            again = await client.post(f"/internal/v1/sync-jobs/{jobs[0]['id']}/cancel",
                                      headers=support.as_installer(infra))
            assert again.status_code == 409 and again.json()["code"] == "job_finished"
            missing = await client.post(f"/internal/v1/sync-jobs/{uuid.uuid4()}/cancel",
                                        headers=support.as_installer(infra))
            assert missing.status_code == 404

    running = await support.new_installation(infra, vault_gateway, slow_simulator)
    rid = running["installation_id"]
    async with replica(infra, support.sync_runner_settings(infra, database, vault_gateway), support) as (client, _):
        async with KafkaProbe(infra.kafka_bootstrap, JOBS, *ENTITIES) as probe:
            await support.publish(producer, support.sync_request(**running))
            progress = await probe.wait_for(lambda e: e.installation_id == rid and e.type == "sync.progress",
                                            timeout=60)
            [mine] = (await client.get(f"/internal/v1/installations/{rid}/sync-jobs",
                                       headers=support.as_installer(infra))).json()["items"]
            job_id = mine["id"]
            response = await client.post(f"/internal/v1/sync-jobs/{job_id}/cancel",
                                         headers=support.as_installer(infra))
            assert response.status_code == 202 and response.json()["cancel_requested"] is True
            job = await final_job(client, infra, support, rid)
            done = await probe.wait_for(lambda e: of_job(job_id)(e) and e.type == "sync.cancelled")
            await probe.drain(0.5)
    assert done[0].type == "sync.cancelled" and job["status"] == "cancelled"
    published = [e for t, e, _ in probe.seen if t in ENTITIES and e.installation_id == rid]
    assert progress
    assert job["published_events"] == done[0].data["published_events"] == len({e.key for e in published})
    assert job["published_events"] < await total_records(slow_simulator)


async def test_poison_records_are_dead_lettered_and_the_job_goes_on(infra, database, vault_gateway, producer,
                                                                     support):
    from aria_connector_testkit.simulators import create_app as create_simulator

    app = create_simulator(support.KEY, seed=3, alerts=10, hosts=4, malformed=2, client_id=support.CLIENT_ID,
                           client_secret=support.CLIENT_SECRET, rate_limit=100000, rate_window_seconds=1)
    with support.serve_in_thread(app, name="poison-simulator") as url:
        inst = await support.new_installation(infra, vault_gateway, url)
        iid = inst["installation_id"]
        async with replica(infra, support.sync_runner_settings(infra, database, vault_gateway), support) as (client, _):
            async with KafkaProbe(infra.kafka_bootstrap, JOBS, "aria.deadletter") as probe:
                await support.publish(producer, support.sync_request(**inst))
                job = await final_job(client, infra, support, iid)
                letters = await probe.wait_for(lambda e: of_job(job["id"])(e) and e.type == "deadletter.recorded",
                                               count=2)
    assert job["status"] == "completed" and job["failed_records"] == 2
    assert job["published_events"] == 14  # the 2 malformed alerts come on top of the 10 good ones
    assert len(letters) == 2
    for letter in letters:
        assert letter.data["origin"] == "sync:alerts" and letter.data["reason"]


async def test_health_is_checked_on_schedule_and_published_on_change(infra, database, vault_gateway, producer,
                                                                      support):
    from aria_connector_testkit.simulators import create_app as create_simulator

    app = create_simulator(support.KEY, seed=4, alerts=2, hosts=2, client_id=support.CLIENT_ID,
                           client_secret=support.CLIENT_SECRET, rate_limit=100000, rate_window_seconds=1)
    # Each check is bounded by the production 500 ms (health_check_timeout_s): it is one vendor call,
    # the lease and the token are reused from check to check until the configuration changes.
    settings = support.sync_runner_settings(infra, database, vault_gateway, health_check_interval_s=0.3)
    assert settings.health_check_timeout_s == 0.5
    with support.serve_in_thread(app, name="health-simulator") as url:
        inst = await support.new_installation(infra, vault_gateway, url)
        iid, org = inst["installation_id"], inst["org_id"]
        enabled = InstallationEnabled(installation_id=iid, org_id=org, integration_key=support.KEY, actor="t",
                                      revision=1, config_version=1, settings=inst["settings"],
                                      credential_ref=inst["credential_ref"], sync_frequency="manual")
        async with replica(infra, settings, support):
            async with KafkaProbe(infra.kafka_bootstrap, "aria.integration.health") as probe:
                await support.publish(producer, Envelope.wrap(enabled, source="installer", org_id=org,
                                                              installation_id=iid))
                first = await probe.wait_for(lambda e: e.installation_id == iid)
                await probe.drain(1.5)  # several more checks, no change: nothing more published
                seen = [e.data for _, e, _ in probe.seen if e.installation_id == iid]
                assert [d["status"] for d in seen] == ["healthy"], seen
                async with httpx.AsyncClient(base_url=url) as http:
                    await http.post("/_sim/faults", json={"status": 500, "count": 1000})
                down = await probe.wait_for(lambda e: e.installation_id == iid and e.data["status"] == "down",
                                            timeout=30)
                async with httpx.AsyncClient(base_url=url) as http:
                    await http.post("/_sim/faults", json={"clear": True})
                healthy_again = await probe.wait_for(
                    lambda e: e.installation_id == iid and e.data["status"] == "healthy", count=2, timeout=30)
                tokens_before_change = await tokens_issued(url)
                # A new configuration (here: a new config version) is checked with a newly leased credential.
                await support.publish(producer, Envelope.wrap(
                    enabled.model_copy(update={"revision": 2, "config_version": 2}), source="installer",
                    org_id=org, installation_id=iid))
                for _ in range(100):
                    if await tokens_issued(url) > tokens_before_change:
                        break
                    await asyncio.sleep(0.1)
                tokens_after_change = await tokens_issued(url)
    assert first[0].data["status"] == "healthy" and first[0].data["details"]["latency_ms"] < 500
    assert down and down[0].data["details"]["error_class"] == "transient"
    assert len(healthy_again) == 2
    # One token for every check until the configuration changed (the vendor's outage kept it), then one more.
    assert tokens_before_change == 1 and tokens_after_change == 2


async def tokens_issued(simulator_url: str) -> int:
    async with httpx.AsyncClient(base_url=simulator_url) as http:
        return (await http.get("/_sim/state")).json()["tokens_issued"]


async def test_a_job_whose_replica_keeps_stopping_fails_once_its_retries_are_used_up(infra, support):
    from aria_sync_runner.jobs import repo, service

    database = await migrated_database(infra, "sync_runner_poison_job", support.MIGRATIONS)
    settings = support.sync_runner_settings(infra, database, "http://127.0.0.1:9")
    pool = await create_pool(database)
    try:
        iid = uuid.uuid4()
        job_id = await service.accept_request(
            pool=pool, max_retries=2, request_id=uuid.uuid4(), org_id=uuid.uuid4(), installation_id=iid,
            integration_key=support.KEY, sync_type="incremental", requested_by="t", settings={},
            credential_ref=None, config_version=1)

        async def replica_dies():  # mid-job: no outcome recorded, the heartbeat stops
            async with pool.acquire() as conn:
                await conn.execute("UPDATE integration_sync_jobs SET heartbeat_at = now() - interval '1 hour' "
                                   "WHERE id = $1", job_id)

        claims = []
        for replica in ("r1", "r2", "r3", "r4"):
            claims.append(await service.claim_job(pool=pool, settings=settings, replica=replica))
            await replica_dies()
        job = await repo.get_job(pool, job_id)
        async with pool.acquire() as conn:
            outbox = [r["event_type"] for r in await conn.fetch("SELECT event_type FROM outbox ORDER BY id")]
    finally:
        await pool.close()
    # The first run and two takeovers (max_retries=2); the fourth replica does not run it again.
    assert [c["id"] if c else None for c in claims] == [job_id, job_id, job_id, None]
    assert job["status"] == "failed" and job["error_class"] == "internal" and job["retry_count"] == 3
    assert "gave up after 3 attempts" in job["error_message"]
    assert outbox.count("sync.failed") == 1 and "integration.health_changed" in outbox, outbox
