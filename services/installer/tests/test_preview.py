"""Preview: the installer asks the real sync-runner (test-only import) to dry-run the CrowdStrike
connector against its simulator; nothing is published."""

import dataclasses
import uuid
from pathlib import Path

import pytest

from aria_connector_testkit.simulators import create_app as create_simulator
from aria_connector_testkit.testing import SimulatorServer
from aria_installer.settings import InstallerSettings
from aria_platform.app import create_app
from aria_platform.testing import KafkaProbe, migrated_database, serving

SYNC_RUNNER_MIGRATIONS = Path(__file__).parents[2] / "sync-runner/src/aria_sync_runner/migrations"
CLIENT_ID, CLIENT_SECRET = "preview-client", "preview-SECRET-canary-5c2e"


@pytest.fixture(scope="module")
def simulator():
    server = SimulatorServer(create_simulator("crowdstrike_falcon", seed=5, alerts=30, hosts=12, client_id=CLIENT_ID,
                                              client_secret=CLIENT_SECRET, rate_limit=100000)).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def sync_runner_url(infra, kafka_topics, vault_gateway_url):
    from aria_sync_runner.main import define as define_sync_runner
    from aria_sync_runner.settings import SyncRunnerSettings

    database = await migrated_database(infra, "sync_runner", SYNC_RUNNER_MIGRATIONS)
    settings = SyncRunnerSettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap,
                                  jwt_secret=infra.jwt_secret, vault_gateway_url=vault_gateway_url,
                                  outbound_allowlist=["127.0.0.1"])
    # HTTP only: its subscribers would join sync-runner's consumer groups.
    app = create_app(dataclasses.replace(define_sync_runner(settings), kafka_routers=()))
    if "/internal/v1/preview" not in app.openapi()["paths"]:
        pytest.xfail("sync-runner has no POST /internal/v1/preview yet")
    async with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def settings(infra, database, vault_gateway_url, sync_runner_url):
    return InstallerSettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                             vault_gateway_url=vault_gateway_url, sync_runner_url=sync_runner_url,
                             outbox_poll_interval_s=0.2)


async def configured(client, h, simulator, secret=CLIENT_SECRET) -> str:
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()["id"]
    response = await client.put(f"/v1/installations/{inst}/configuration", headers=h["admin"], json={
        "config": {"base_url": simulator, "client_id": CLIENT_ID, "client_secret": secret}})
    assert response.status_code == 200, response.text
    return inst


async def test_preview_shows_counts_and_samples_and_publishes_nothing(client, org, simulator, infra):
    _, h = org
    inst = await configured(client, h, simulator)
    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.risk", "aria.entity.asset") as probe:
        response = await client.post(f"/v1/installations/{inst}/preview", json={"max_pages": 1}, headers=h["operator"])
        assert response.status_code == 200, response.text
        await probe.drain(1.0)
    preview = response.json()
    assert preview["counts"]["risk"] > 0 and preview["counts"]["asset"] > 0
    assert preview["pages"] == {"alerts": 1, "hosts": 1} and preview["truncated"] is True
    assert 0 < len(preview["samples"]["risk"]) <= 5 and preview["samples"]["risk"][0]["org_id"]
    assert CLIENT_SECRET not in response.text
    assert not [e for _, e, _ in probe.seen if str(e.installation_id) == inst], "a preview publishes nothing"
    log = (await client.get(f"/v1/installations/{inst}/activity?type=preview", headers=h["viewer"])).json()["items"]
    assert log[0]["status"] == "success" and log[0]["details"]["counts"] == preview["counts"]


async def test_preview_failures_are_problems(client, org, simulator):
    _, h = org
    refused = await configured(client, h, simulator, secret="not-the-secret")
    bad = await client.post(f"/v1/installations/{refused}/preview", headers=h["operator"])
    assert bad.status_code == 422 and bad.json()["code"] == "preview_failed", bad.text
    assert bad.json()["error_class"] == "authentication" and "not-the-secret" not in bad.text
    log = (await client.get(f"/v1/installations/{refused}/activity?type=preview", headers=h["viewer"])).json()["items"]
    assert log[0]["status"] == "failure"

    fresh = (await client.post("/v1/installations", json={"integration_key": "generic_webhook"},
                               headers=h["admin"])).json()["id"]
    early = await client.post(f"/v1/installations/{fresh}/preview", headers=h["operator"])
    assert early.status_code == 409 and early.json()["current_state"] == "configuring"
    assert (await client.post(f"/v1/installations/{refused}/preview", headers=h["viewer"])).status_code == 403
    assert (await client.post(f"/v1/installations/{uuid.uuid4()}/preview", headers=h["operator"])).status_code == 404


async def test_configuration_is_tested_before_anything_is_saved(client, org, simulator):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()["id"]
    config = {"base_url": simulator, "client_id": CLIENT_ID, "client_secret": "wrong-SECRET-canary-77"}
    wrong = await client.post(f"/v1/installations/{inst}/test-configuration", json={"config": config},
                              headers=h["admin"])
    assert wrong.status_code == 200, wrong.text
    assert wrong.json()["ok"] is False and wrong.json()["error_class"] == "authentication"
    assert "wrong-SECRET-canary-77" not in wrong.text

    right = await client.post(f"/v1/installations/{inst}/test-configuration",
                              json={"config": {**config, "client_secret": CLIENT_SECRET}}, headers=h["admin"])
    assert right.status_code == 200 and right.json()["ok"] is True, right.text

    # Nothing was saved: still a draft, no configuration, no credential.
    draft = (await client.get(f"/v1/installations/{inst}", headers=h["viewer"])).json()
    assert draft["status"] == "configuring" and draft["config_version"] is None and draft["secret_fields"] == []
    log = await client.get(f"/v1/installations/{inst}/activity?type=test", headers=h["viewer"])
    assert [e["status"] for e in log.json()["items"]] == ["success", "failure"]
    assert all(e["details"]["unsaved_configuration"] for e in log.json()["items"])
    assert CLIENT_SECRET not in log.text and "wrong-SECRET-canary-77" not in log.text

    invalid = await client.post(f"/v1/installations/{inst}/test-configuration",
                                json={"config": {"base_url": "not a url", "client_id": "x", "client_secret": "s3"}},
                                headers=h["admin"])
    assert invalid.status_code == 422 and invalid.json()["code"] == "config_invalid"
    assert "s3" not in str(invalid.json().get("errors"))
    refused = await client.post(f"/v1/installations/{inst}/test-configuration", json={"config": config},
                                headers=h["operator"])
    assert refused.status_code == 403
    other = await client.post(f"/v1/installations/{uuid.uuid4()}/test-configuration", json={"config": config},
                              headers=h["admin"])
    assert other.status_code == 404


async def test_preview_of_an_unsaved_mapping(client, org, simulator):
    _, h = org
    inst = await configured(client, h, simulator)
    stored = (await client.get(f"/v1/installations/{inst}/mappings", headers=h["viewer"])).json()
    keep = ("source_type", "target_entity", "external_id", "fields", "attributes", "transformation_rules",
            "filter_rules", "priority", "active")
    edited = [{k: m[k] for k in keep} for m in stored]
    risk = next(m for m in edited if m["target_entity"] == "risk")
    risk["fields"] = {**risk["fields"], "title": {"const": "Edited in the wizard"}}
    response = await client.post(f"/v1/installations/{inst}/preview", headers=h["operator"],
                                 json={"max_pages": 1, "mappings": edited})
    assert response.status_code == 200, response.text
    assert {s["title"] for s in response.json()["samples"]["risk"]} == {"Edited in the wizard"}

    # Nothing was stored: the installation's mappings are the connector's defaults still.
    after = (await client.get(f"/v1/installations/{inst}/mappings", headers=h["viewer"])).json()
    assert after == stored
    plain = (await client.post(f"/v1/installations/{inst}/preview", headers=h["operator"],
                               json={"max_pages": 1})).json()
    assert "Edited in the wizard" not in {s["title"] for s in plain["samples"]["risk"]}

    risk["fields"] = {**risk["fields"], "no_such_field": "id"}
    invalid = await client.post(f"/v1/installations/{inst}/preview", headers=h["operator"],
                                json={"max_pages": 1, "mappings": edited})
    assert invalid.status_code == 422 and invalid.json()["code"] == "mapping_invalid"


async def test_a_vendor_that_never_answers_is_named_not_sync_runner(client, org):
    """Issue 17 item 9: the connection test ends with the vendor's timeout before the installer's
    call to sync-runner times out, so the answer names the vendor."""
    import socket
    import time

    from aria_platform.app import HTTP_TIMEOUT_S
    from aria_sync_runner.settings import SyncRunnerSettings

    bound = SyncRunnerSettings.model_fields["connection_test_timeout_s"].default
    assert bound < HTTP_TIMEOUT_S
    _, h = org
    silent = socket.socket()  # accepts connections (the kernel's backlog) and never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        inst = await configured(client, h, f"http://127.0.0.1:{silent.getsockname()[1]}")
        started = time.monotonic()
        response = await client.post(f"/v1/installations/{inst}/test", headers=h["operator"])
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ok"] is False and result["error_class"] == "transient"
    assert result["message"] == f"CrowdStrike Falcon did not answer within {bound:g} s"
    assert "sync-runner" not in response.text and elapsed < HTTP_TIMEOUT_S
