"""Sync jobs end to end: SyncRequested on Kafka → vault-gateway lease → simulator → entity events."""

import asyncio
import contextlib
import json
import os
import signal
import uuid
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aria_contracts.ids import entity_id
from aria_platform.testing import KafkaProbe, bearer, migrated_database, service_token

TOPICS = ("aria.sync.jobs", "aria.entity.risk", "aria.entity.asset")


@pytest.fixture(scope="module")
async def database(infra, kafka_topics, support):
    return await migrated_database(infra, "sync_runner", support.MIGRATIONS)


@pytest.fixture(scope="module")
async def client(infra, database, vault_gateway, support):
    async with support.running_sync_runner(infra, support.sync_runner_settings(infra, database, vault_gateway)) as c:
        yield c


@pytest.fixture
async def installation(infra, vault_gateway, simulator, support):
    return await support.new_installation(infra, vault_gateway, simulator)


def of(inst):
    return lambda e: e.installation_id == inst


async def sim_state(simulator) -> dict:
    async with httpx.AsyncClient(base_url=simulator) as http:
        return (await http.get("/_sim/state")).json()


async def test_sync_publishes_entities_in_the_requesters_trace_then_resumes_from_checkpoint(
        client, infra, installation, producer, simulator, support, database):
    inst, org = installation["installation_id"], installation["org_id"]
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    request = support.sync_request(**installation, traceparent=f"00-{trace_id}-{span_id}-01")
    streams = (await sim_state(simulator))["streams"]
    alerts, hosts = streams["alerts"]["records"], streams["hosts"]["records"]

    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        await support.publish(producer, request)
        done = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        assert done and done[0].type == "sync.completed", done and done[0].data
        await probe.drain(0.5)
    events = [e for _, e, _ in probe.seen if e.installation_id == inst
              and (e.type.endswith(".observed") or e.data.get("job_id") == done[0].data["job_id"])]
    risks = [e for e in events if e.type == "risk.observed"]
    assets = [e for e in events if e.type == "asset.observed"]
    assert len({e.data["entity_id"] for e in risks}) == alerts and len({e.data["entity_id"] for e in assets}) == hosts
    for e in risks + assets:
        assert e.org_id == org and e.source == "sync-runner" and e.data["org_id"] == str(org)
        kind = "risk" if e.type == "risk.observed" else "asset"
        assert e.data["entity_id"] == str(entity_id(org_id=org, integration_key=support.KEY, entity_type=kind,
                                                      external_id=e.data["provenance"]["external_id"]))
        assert e.key == e.data["entity_id"]
        assert e.traceparent and e.traceparent.split("-")[1] == trace_id, "the requester's trace must carry through"
    lifecycle = [e.type for e in events if e.type.startswith("sync.")]
    assert lifecycle[0] == "sync.started" and lifecycle[-1] == "sync.completed" and "sync.progress" in lifecycle
    assert all(e.traceparent.split("-")[1] == trace_id for e in events if e.type.startswith("sync."))

    job_id = done[0].data["job_id"]
    assert done[0].data["published_events"] == alerts + hosts
    assert done[0].data["entity_counts"] == {"risk": alerts, "asset": hosts}
    job = (await client.get(f"/internal/v1/sync-jobs/{job_id}", headers=support.as_installer(infra))).json()
    assert job["entity_counts"] == {"risk": alerts, "asset": hosts}
    assert job["status"] == "completed" and job["progress_percent"] == 100
    assert job["processed_records"] == job["published_events"] == job["total_records"] == alerts + hosts
    assert job["failed_records"] == 0 and job["request_id"] == str(request.data["request_id"])
    assert job["connector_version"] and job["error_class"] is None

    # A second request resumes from the saved checkpoints: nothing new upstream, nothing published.
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        await support.publish(producer, support.sync_request(**installation))
        second = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        await probe.drain(0.5)
    assert second and second[0].type == "sync.completed" and second[0].data["job_id"] != job_id
    assert second[0].data["published_events"] == 0 and second[0].data["entity_counts"] == {}
    assert not [e for e in probe.seen if e[1].installation_id == inst and e[0].startswith("aria.entity.")]

    # New upstream records: the next sync publishes exactly those.
    async with httpx.AsyncClient(base_url=simulator) as http:
        assert (await http.post("/_sim/records", json={"stream": "alerts", "count": 3})).status_code == 201
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        await support.publish(producer, support.sync_request(**installation))
        third = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        await probe.drain(0.5)
    new_risks = {e.data["entity_id"] for _, e, _ in probe.seen if e.installation_id == inst and e.type == "risk.observed"}
    assert third[0].type == "sync.completed" and len(new_risks) == 3
    assert third[0].data["entity_counts"] == {"risk": 3}
    assert not new_risks & {e.data["entity_id"] for e in risks}

    conn = await asyncpg.connect(database)
    try:
        streams = {r["stream"] for r in await conn.fetch(
            "SELECT stream FROM sync_checkpoints WHERE installation_id = $1", inst)}
        dump = ""
        for table in ("integration_sync_jobs", "sync_checkpoints", "outbox"):
            dump += "".join(str(dict(r)) for r in await conn.fetch(f"SELECT * FROM {table}"))
    finally:
        await conn.close()
    assert streams == {"alerts", "hosts"}
    assert support.CLIENT_SECRET not in dump


async def test_full_sync_ignores_the_checkpoint(client, infra, installation, producer, simulator, support, database):
    inst = installation["installation_id"]
    for sync_type in ("incremental", "full"):
        async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs") as probe:
            await support.publish(producer, support.sync_request(**installation, sync_type=sync_type))
            done = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        assert done[0].type == "sync.completed" and done[0].data["published_events"] > 0, sync_type


async def test_wrong_secret_fails_the_job_as_authentication(client, infra, vault_gateway, simulator, producer, support,
                                                           database):
    inst, org = uuid.uuid4(), uuid.uuid4()
    wrong = "wrong-secret-canary-93ab"
    ref = await support.store_credential(vault_gateway, infra, installation_id=inst, org_id=org,
                                         secrets={"client_secret": wrong})
    request = support.sync_request(installation_id=inst, org_id=org, credential_ref=ref,
                                   settings={"base_url": simulator, "client_id": support.CLIENT_ID})
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        await support.publish(producer, request)
        failed = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        await probe.drain(0.3)
    assert failed and failed[0].type == "sync.failed"
    assert failed[0].data["error_class"] == "authentication" and "401" in failed[0].data["error_message"]
    assert not [e for _, e, _ in probe.seen if e.installation_id == inst and e.type.endswith(".observed")]
    assert all(wrong not in e.model_dump_json() for _, e, _ in probe.seen)
    [job] = (await client.get(f"/internal/v1/installations/{inst}/sync-jobs", headers=support.as_installer(infra))
             ).json()["items"]
    assert job["status"] == "failed" and job["error_class"] == "authentication" and job["completed_at"]
    conn = await asyncpg.connect(database)
    try:
        dump = "".join(str(dict(r)) for r in await conn.fetch("SELECT * FROM integration_sync_jobs"))
    finally:
        await conn.close()
    assert wrong not in dump


async def test_a_redelivered_request_does_not_start_a_second_job(client, infra, installation, producer, support,
                                                                 database):
    inst = installation["installation_id"]
    request = support.sync_request(**installation)
    async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs") as probe:
        await support.publish(producer, request)
        await support.publish(producer, request)  # the same message delivered again
        await support.own_events(probe, database, inst, lambda e: e.type == "sync.completed")
        await probe.drain(2.0)
    started = await support.own_events(probe, database, inst, lambda e: e.type == "sync.started", timeout=0)
    completed = await support.own_events(probe, database, inst, lambda e: e.type == "sync.completed", timeout=0)
    assert len(started) == 1 and len(completed) == 1
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM integration_sync_jobs WHERE request_id = $1",
                                   uuid.UUID(str(request.data["request_id"]))) == 1
    finally:
        await conn.close()


async def test_a_metadata_url_fails_the_job_as_configuration_without_calling_it(client, infra, installation,
                                                                                 producer, support, database):
    inst = installation["installation_id"]
    settings = {**installation["settings"], "base_url": "http://169.254.169.254/latest"}
    async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs") as probe:
        await support.publish(producer, support.sync_request(**{**installation, "settings": settings}))
        failed = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
    assert failed[0].type == "sync.failed" and failed[0].data["error_class"] == "configuration"
    assert "169.254.169.254" in failed[0].data["error_message"] and "metadata" in failed[0].data["error_message"]


async def test_jobs_are_listed_newest_first_with_a_cursor(client, infra, installation, producer, support):
    inst = installation["installation_id"]
    no_credential = {**installation, "credential_ref": None}  # fails fast: the connector has no secret
    for _ in range(3):
        await support.publish(producer, support.sync_request(**no_credential))
    items = await support.wait_for_job(client, infra, inst, count=3)
    assert len(items) == 3 and all(j["status"] == "failed" and j["error_class"] == "configuration" for j in items)
    first = (await client.get(f"/internal/v1/installations/{inst}/sync-jobs?limit=2",
                              headers=support.as_installer(infra))).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (await client.get(f"/internal/v1/installations/{inst}/sync-jobs?limit=2&cursor={first['next_cursor']}",
                               headers=support.as_installer(infra))).json()
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ordered = first["items"] + second["items"]
    assert [j["created_at"] for j in ordered] == sorted((j["created_at"] for j in ordered), reverse=True)
    assert {j["id"] for j in ordered} == {j["id"] for j in items}

    forbidden = await client.get(f"/internal/v1/installations/{inst}/sync-jobs",
                                 headers=bearer(service_token(infra, "catalog")))
    assert forbidden.status_code == 403
    missing = await client.get(f"/internal/v1/sync-jobs/{uuid.uuid4()}", headers=support.as_installer(infra))
    assert missing.status_code == 404
    bad = await client.get(f"/internal/v1/installations/{inst}/sync-jobs?cursor=nonsense",
                           headers=support.as_installer(infra))
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


async def test_connection_test_leases_and_calls_the_vendor(client, infra, installation, vault_gateway, support):
    body = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in installation.items()}
    body["integration_key"] = support.KEY
    ok = await client.post("/internal/v1/test-connection", json=body, headers=support.as_installer(infra))
    assert ok.status_code == 200, ok.text
    assert ok.json()["ok"] is True and ok.json()["error_class"] is None and ok.json()["latency_ms"] >= 0

    private = {**body, "settings": {**body["settings"], "base_url": "http://10.0.0.1:8080"}}
    refused = (await client.post("/internal/v1/test-connection", json=private, headers=support.as_installer(infra))).json()
    assert refused["ok"] is False and refused["error_class"] == "configuration" and "10.0.0.1" in refused["message"]

    other_installation = {**body, "installation_id": str(uuid.uuid4())}
    not_yours = (await client.post("/internal/v1/test-connection", json=other_installation,
                                   headers=support.as_installer(infra))).json()
    assert not_yours["ok"] is False and not_yours["error_class"] == "configuration"

    wrong_caller = await client.post("/internal/v1/test-connection", json=body,
                                     headers=bearer(service_token(infra, "webhook-ingest")))
    assert wrong_caller.status_code == 403
    unknown = await client.post("/internal/v1/test-connection", json={**body, "integration_key": "nope"},
                                headers=support.as_installer(infra))
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_connector"
    assert support.CLIENT_SECRET not in ok.text + str(refused) + str(not_yours)


async def test_a_job_left_running_by_a_dead_replica_is_resumed_when_its_heartbeat_expires(
        client, infra, installation, producer, support, database):
    inst, org = installation["installation_id"], installation["org_id"]
    request = support.sync_request(**installation)
    job_id = uuid.uuid4()
    conn = await asyncpg.connect(database)
    try:  # what a replica that crashed mid-sync leaves behind: running, claimed, heartbeat long gone
        await conn.execute(
            """INSERT INTO integration_sync_jobs (id, org_id, installation_id, integration_key, request_id, sync_type,
                                                  status, started_at, triggered_by, claimed_by, heartbeat_at,
                                                  settings, credential_ref, max_retries)
               VALUES ($1, $2, $3, $4, $5, 'incremental', 'running', now(), 'user-test', 'dead-replica',
                       now() - interval '1 hour', $6::text::jsonb, $7, 2)""",
            job_id, org, inst, support.KEY, uuid.UUID(str(request.data["request_id"])),
            json.dumps(installation["settings"]), installation["credential_ref"])
    finally:
        await conn.close()
    async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs") as probe:
        await support.publish(producer, request)  # the redelivered request does not make a second job
        done = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
    assert done[0].type == "sync.completed" and done[0].data["job_id"] == str(job_id)
    job = (await client.get(f"/internal/v1/sync-jobs/{job_id}", headers=support.as_installer(infra))).json()
    assert job["status"] == "completed" and job["retry_count"] == 1 and job["published_events"] > 0


def stream_workers() -> set[int]:
    """Pids of this process's stream worker processes (the replica runs in the test process)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == os.getpid() and \
                    b"aria_sync_runner.jobs.workers" in (stat.parent / "cmdline").read_bytes():
                pids.add(int(stat.parent.name))
    return pids


async def test_a_stream_worker_that_died_is_replaced_and_the_next_job_reads_every_stream(
        client, infra, installation, producer, simulator, support, database):
    inst = installation["installation_id"]
    streams = (await sim_state(simulator))["streams"]
    assets_counted = await published_count(client, "aria.entity.asset")
    before = stream_workers()
    assert before, "the replica runs a job's other streams in stream worker processes"
    for pid in before:
        os.kill(pid, signal.SIGKILL)  # as an OOM kill would
    deadline = asyncio.get_running_loop().time() + 10
    while {p for p in before if Path(f"/proc/{p}").exists()} and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)  # the replica notices (its socket closes) and reaps them
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        await support.publish(producer, support.sync_request(**installation, sync_type="full"))
        done = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        await probe.drain(0.5)
    assert done[0].type == "sync.completed", done[0].data
    seen: dict[str, set] = {"risk.observed": set(), "asset.observed": set()}
    for _, e, _ in probe.seen:
        if e.installation_id == inst and e.type in seen:
            seen[e.type].add(e.data["entity_id"])
    assert (len(seen["risk.observed"]), len(seen["asset.observed"])) == (streams["alerts"]["records"],
                                                                         streams["hosts"]["records"])
    job = (await client.get(f"/internal/v1/sync-jobs/{done[0].data['job_id']}",
                            headers=support.as_installer(infra))).json()
    assert (job["status"], job["progress_percent"], job["retry_count"]) == ("completed", 100, 0)
    assert stream_workers() and not stream_workers() & before
    # The hosts stream was published by the worker; the replica's metrics count its events too.
    assert await published_count(client, "aria.entity.asset") - assets_counted == streams["hosts"]["records"]


async def published_count(client, topic: str) -> float:
    text = (await client.get("/metrics")).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "aria_events_published_total" and sample.labels.get("topic") == topic)


async def test_probes_and_asyncapi_describe_the_service(client):
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    spec = (await client.get("/asyncapi.json")).json()
    assert any("aria.sync.requested" in name for name in spec["channels"])


async def test_preview_reads_a_few_pages_and_publishes_nothing(client, infra, installation, support, database):
    inst = installation["installation_id"]
    body = {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in installation.items()}
    body.update(integration_key=support.KEY, max_pages=1)
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        response = await client.post("/internal/v1/preview", json=body, headers=support.as_installer(infra))
        await probe.drain(1.0)
    assert response.status_code == 200, response.text
    preview = response.json()
    assert set(preview) == {"counts", "samples", "record_errors", "pages", "truncated"}
    assert preview["counts"]["risk"] > 0 and preview["counts"]["asset"] > 0
    assert preview["pages"] == {"alerts": 1, "hosts": 1}
    assert 0 < len(preview["samples"]["risk"]) <= 5 and preview["samples"]["risk"][0]["org_id"] == body["org_id"]
    assert not [e for _, e, _ in probe.seen if e.installation_id == inst]
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM sync_checkpoints WHERE installation_id = $1", inst) == 0
        assert await conn.fetchval("SELECT count(*) FROM integration_sync_jobs WHERE installation_id = $1", inst) == 0
    finally:
        await conn.close()
    assert support.CLIENT_SECRET not in response.text

    too_many = await client.post("/internal/v1/preview", json={**body, "max_pages": 6},
                                 headers=support.as_installer(infra))
    assert too_many.status_code == 422
    refused = await client.post("/internal/v1/preview", headers=support.as_installer(infra),
                                json={**body, "settings": {**body["settings"], "base_url": "http://10.0.0.1"}})
    assert refused.status_code == 422 and refused.json()["code"] == "preview_failed"
    assert refused.json()["error_class"] == "configuration"
    wrong_caller = await client.post("/internal/v1/preview", json=body,
                                     headers=bearer(service_token(infra, "catalog")))
    assert wrong_caller.status_code == 403


async def test_a_request_older_than_the_maximum_age_is_skipped(client, infra, installation, producer, support,
                                                              database):
    """A new consumer group starts at the oldest retained request: stale ones must not run."""
    fresh = support.sync_request(**installation)
    stale = fresh.model_copy(update={"time": fresh.time - timedelta(hours=2),
                                     "data": {**fresh.data, "request_id": str(uuid.uuid4())}})
    async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs") as probe:
        await support.publish(producer, stale)
        await support.publish(producer, fresh)
        await support.own_events(probe, database, installation["installation_id"],
                                 lambda e: e.type == "sync.completed")
    conn = await asyncpg.connect(database)
    try:
        requests = {r["request_id"] for r in await conn.fetch(
            "SELECT request_id FROM integration_sync_jobs WHERE installation_id = $1",
            installation["installation_id"])}
    finally:
        await conn.close()
    assert uuid.UUID(fresh.data["request_id"]) in requests
    assert uuid.UUID(stale.data["request_id"]) not in requests
