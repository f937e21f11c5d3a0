"""vault-gateway down: a job fails as transient (after its retries), a connection test answers 503."""

import uuid

import pytest

from aria_platform.testing import KafkaProbe, migrated_database


@pytest.fixture(scope="module")
async def database(infra, kafka_topics, support):
    return await migrated_database(infra, "sync_runner_deps", support.MIGRATIONS)


@pytest.fixture(scope="module")
async def client(infra, database, support):
    down = f"http://127.0.0.1:{support.free_port()}"  # nothing listens there
    settings = support.sync_runner_settings(infra, database, down, sync_max_retries=1, sync_retry_backoff_s=0.1)
    async with support.running_sync_runner(infra, settings) as c:
        yield c


async def test_lease_failure_fails_the_job_as_transient_after_retrying(client, infra, producer, support,
                                                                     database):
    inst, org = uuid.uuid4(), uuid.uuid4()
    request = support.sync_request(installation_id=inst, org_id=org, credential_ref=str(uuid.uuid4()),
                                   settings={"base_url": "http://127.0.0.1:9", "client_id": "x"})
    async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs", "aria.integration.health") as probe:
        await support.publish(producer, request)
        failed = await support.own_events(probe, database, inst, lambda e: e.type in ("sync.completed", "sync.failed"))
        health = await probe.wait_for(lambda e: e.installation_id == inst and e.type == "integration.health_changed"
                                      and e.data["details"].get("job_id") == failed[0].data["job_id"])
    assert health and health[0].data["status"] == "down"
    assert health[0].data["details"]["error_class"] == "transient"
    assert failed and failed[0].type == "sync.failed"
    assert failed[0].data["error_class"] == "transient"
    assert "vault-gateway" in failed[0].data["error_message"] and "lease" in failed[0].data["error_message"]
    [job] = (await client.get(f"/internal/v1/installations/{inst}/sync-jobs", headers=support.as_installer(infra))
             ).json()["items"]
    assert job["status"] == "failed" and job["error_class"] == "transient"
    assert job["retry_count"] == 1 and job["max_retries"] == 1


async def test_connection_test_answers_503_when_vault_gateway_is_down(client, infra, support):
    body = {"org_id": str(uuid.uuid4()), "installation_id": str(uuid.uuid4()), "integration_key": support.KEY,
            "settings": {"base_url": "http://127.0.0.1:9", "client_id": "x"}, "credential_ref": str(uuid.uuid4())}
    response = await client.post("/internal/v1/test-connection", json=body, headers=support.as_installer(infra))
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["code"] == "dependency_unavailable"
