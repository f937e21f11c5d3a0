"""Issue 2's flow through all five services, as real processes on real Kafka, Postgres and OpenBao."""

from __future__ import annotations

import asyncio
import json
import os
import uuid

import asyncpg
import httpx
from opentelemetry import context, propagate

from aria_connector_testkit.vendors.generic_webhook.simulator import sign
from aria_contracts import entity_id
from aria_platform.testing import KafkaProbe, bearer, service_token, user_token
from tests.support import wait_until, webhook_installation

ENTITY_TOPICS = ("aria.entity.risk", "aria.entity.asset", "aria.entity.alert", "aria.entity.indicator")
WEBHOOK_SECRET = "e2e-webhook-signing-secret-31c7-0123456789abcdef"


async def test_catalog_lists_crowdstrike(platform, api, org):
    _, h = org
    listed = await api.get(f"{platform.urls['catalog']}/v1/integrations", params={"q": "crowdstrike"}, headers=h["viewer"])
    assert listed.status_code == 200, listed.text
    keys = [item["key"] for item in listed.json()["items"]]
    assert "crowdstrike_falcon" in keys


async def test_install_configure_sync_and_uninstall_crowdstrike(platform, api, org, infra):
    org_id, h = org
    installer = platform.urls["installer"]
    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                           headers=h["admin"])).json()
    configured = await api.put(f"{installer}/v1/installations/{inst['id']}/configuration", headers=h["admin"], json={
        "config": {"base_url": platform.simulator_url, "client_id": platform.simulator_client_id,
                   "client_secret": platform.simulator_client_secret}, "sync_frequency": "manual"})
    assert configured.status_code == 200, configured.text

    # Postgres holds only a reference; the secret is in OpenBao (encrypted under the installation's key).
    conn = await asyncpg.connect(platform.databases["installer"])
    try:
        row = await conn.fetchrow("SELECT settings, credential_ref FROM integration_configurations "
                                  "WHERE installation_id = $1", uuid.UUID(inst["id"]))
    finally:
        await conn.close()
    assert row["credential_ref"] is not None and platform.simulator_client_secret not in str(dict(row))
    stored = httpx.get(f"{infra.vault_addr}/v1/aria-kv/data/installations/{inst['id']}/connector",
                       headers={"X-Vault-Token": infra.vault_admin_token}).json()
    assert stored["data"]["data"]["ciphertext"].startswith("vault:v1:")

    tested = await api.post(f"{installer}/v1/installations/{inst['id']}/test", headers=h["operator"])
    assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text

    assert (await api.post(f"{installer}/v1/installations/{inst['id']}/enable", headers=h["admin"])).status_code == 200
    state = (await api.get(f"{platform.simulator_url}/_sim/state")).json()
    alerts = state["streams"]["alerts"]["records"]
    hosts = state["streams"]["hosts"]["records"]

    trace_id = os.urandom(16).hex()
    traceparent = f"00-{trace_id}-{os.urandom(8).hex()}-01"
    async with KafkaProbe(infra.kafka_bootstrap, *ENTITY_TOPICS, "aria.sync.jobs") as probe:
        # As a traced caller would: if this process's httpx is instrumented it sends a child of our span.
        token = context.attach(propagate.extract({"traceparent": traceparent}))
        try:
            sync = await api.post(f"{installer}/v1/installations/{inst['id']}/sync",
                                  headers={**h["operator"], "traceparent": traceparent})
        finally:
            context.detach(token)
        assert sync.status_code == 202
        done = await probe.wait_for(lambda e: e.type in ("sync.completed", "sync.failed")
                                    and e.data["installation_id"] == inst["id"], timeout=60)
        assert done and done[0].type == "sync.completed", done and done[0].data
        await probe.drain(1.0)
    ours = [e for _, e, _ in probe.seen if e.installation_id == uuid.UUID(inst["id"])]
    risks = [e for e in ours if e.type == "risk.observed"]
    assets = [e for e in ours if e.type == "asset.observed"]
    assert len({e.data["entity_id"] for e in risks}) == alerts
    assert len({e.data["entity_id"] for e in assets}) == hosts
    assert all(e.org_id == org_id for e in risks + assets)
    # Deterministic ids: org + integration + vendor's external id.
    sample = risks[0].data
    assert sample["entity_id"] == str(entity_id(org_id=org_id, integration_key="crowdstrike_falcon",
                                                entity_type="risk", external_id=sample["provenance"]["external_id"]))
    # The trace that asked for the sync is the trace of the events it produced.
    assert risks[0].traceparent and risks[0].traceparent.split("-")[1] == trace_id

    # The installer learns the outcome from the sync job events.
    async def synced():
        body = (await api.get(f"{installer}/v1/installations/{inst['id']}", headers=h["viewer"])).json()
        return body if body["last_sync_status"] == "completed" else None
    assert await wait_until(synced)

    # A second sync with no new vendor data publishes nothing new (incremental checkpoint).
    async with KafkaProbe(infra.kafka_bootstrap, *ENTITY_TOPICS, "aria.sync.jobs") as probe:
        await api.post(f"{installer}/v1/installations/{inst['id']}/sync", headers=h["operator"])
        done = await probe.wait_for(lambda e: e.type in ("sync.completed", "sync.failed")
                                    and e.data["installation_id"] == inst["id"], timeout=60)
        assert done and done[0].type == "sync.completed"
        await probe.drain(1.0)
    again = [e for _, e, _ in probe.seen
             if e.installation_id == uuid.UUID(inst["id"]) and e.type in ("risk.observed", "asset.observed")]
    assert again == []

    # Uninstall: vault-gateway crypto-shreds; a lease afterwards fails.
    ref = str(row["credential_ref"])
    lease_url = f"{platform.urls['vault-gateway']}/internal/v1/credentials/{ref}/lease"
    runner = bearer(service_token(infra, "sync-runner"))
    assert (await api.post(lease_url, json={"installation_id": inst["id"]}, headers=runner)).status_code == 200
    assert (await api.delete(f"{installer}/v1/installations/{inst['id']}", headers=h["admin"])).status_code == 204

    async def shredded():
        response = await api.post(lease_url, json={"installation_id": inst["id"]}, headers=runner)
        return response.status_code == 404
    assert await wait_until(shredded)
    gone = httpx.post(f"{infra.vault_addr}/v1/transit/decrypt/aria-inst-{inst['id']}",
                      json={"ciphertext": stored["data"]["data"]["ciphertext"]},
                      headers={"X-Vault-Token": infra.vault_admin_token})
    assert gone.status_code >= 400
    assert (await api.get(f"{installer}/v1/installations/{inst['id']}", headers=h["viewer"])).status_code == 404


async def test_signed_webhook_is_verified_deduplicated_and_published(platform, api, org, infra):
    org_id, h = org
    installer = platform.urls["installer"]
    inst = await webhook_installation(api, installer, h["admin"], WEBHOOK_SECRET)
    url = f"{platform.urls['webhook-ingest']}/v1/webhooks/{inst}"
    body = json.dumps({"events": [{"id": "finding-1", "type": "risk", "title": "Public bucket",
                                   "severity": "high", "status": "open"}]}).encode()

    async def live():  # webhook-ingest learns about the installation from the lifecycle topic
        probe = await api.post(url, content=b"{}", headers={"content-type": "application/json"})
        return probe.status_code != 404
    assert await wait_until(live)

    async with KafkaProbe(infra.kafka_bootstrap, *ENTITY_TOPICS, "aria.webhook.received") as probe:
        forged = await api.post(url, content=body, headers=sign("not-the-secret", body, delivery_id="d-1"))
        assert forged.status_code == 401
        accepted = await api.post(url, content=body, headers=sign(WEBHOOK_SECRET, body, delivery_id="d-1"))
        assert accepted.status_code == 202, accepted.text
        replay = await api.post(url, content=body, headers=sign(WEBHOOK_SECRET, body, delivery_id="d-1"))
        assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
        await probe.wait_for(lambda e: e.type == "webhook.received" and e.installation_id == uuid.UUID(inst))
        await probe.drain(1.5)
    ours = [e for _, e, _ in probe.seen if e.installation_id == uuid.UUID(inst)]
    assert sorted(e.type for e in ours) == ["risk.observed", "webhook.received"]
    risk = next(e for e in ours if e.type == "risk.observed")
    assert risk.org_id == org_id and risk.data["entity_id"] == str(
        entity_id(org_id=org_id, integration_key="generic_webhook", entity_type="risk", external_id="finding-1"))


async def test_bad_requests_are_refused_with_problems_and_write_nothing(platform, api, org, infra):
    org_id, h = org
    installer = platform.urls["installer"]

    async def counts():
        conn = await asyncpg.connect(platform.databases["installer"])
        try:
            return [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in
                    ("integration_installations", "integration_configurations", "integration_activity_logs", "outbox")]
        finally:
            await conn.close()

    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                           headers=h["admin"])).json()
    await asyncio.sleep(0.5)  # let the outbox drain so counts are stable
    before = await counts()
    unknown = await api.post(f"{installer}/v1/installations", json={"integration_key": "no_such_vendor"},
                             headers=h["admin"])
    invalid = await api.put(f"{installer}/v1/installations/{inst['id']}/configuration", headers=h["admin"],
                            json={"config": {"base_url": "ftp:/nope", "client_id": ""}})
    anonymous = await api.post(f"{installer}/v1/installations", json={"integration_key": "crowdstrike_falcon"})
    stranger = bearer(user_token(infra, org_id=uuid.uuid4(), role="admin"))
    foreign = await api.post(f"{installer}/v1/installations/{inst['id']}/enable", headers=stranger)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_integration")
    assert (invalid.status_code, invalid.json()["code"]) == (422, "config_invalid")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "missing_token")
    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")
    for response in (unknown, invalid, anonymous, foreign):
        assert response.headers["content-type"] == "application/problem+json"
    assert await counts() == before


async def test_sync_jobs_are_listed_and_a_failing_sync_puts_the_installation_in_error(platform, api, org, infra):
    org_id, h = org
    installer = platform.urls["installer"]
    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                           headers=h["admin"])).json()
    await api.put(f"{installer}/v1/installations/{inst['id']}/configuration", headers=h["admin"], json={
        "config": {"base_url": platform.simulator_url, "client_id": platform.simulator_client_id,
                   "client_secret": "not-the-right-secret"}, "sync_frequency": "manual"})
    await api.post(f"{installer}/v1/installations/{inst['id']}/enable", headers=h["admin"])
    await api.post(f"{installer}/v1/installations/{inst['id']}/sync", headers=h["operator"])

    async def failed():
        body = (await api.get(f"{installer}/v1/installations/{inst['id']}", headers=h["viewer"])).json()
        return body if body["last_sync_status"] == "failed" else None
    body = await wait_until(failed, timeout=60)
    assert body and body["status"] == "error" and body["last_error"].startswith("authentication")

    jobs = (await api.get(f"{installer}/v1/installations/{inst['id']}/sync-jobs", headers=h["viewer"])).json()
    assert [j["status"] for j in jobs["items"]] == ["failed"] and jobs["items"][0]["error_class"] == "authentication"
    job_id = jobs["items"][0]["id"]
    finished = await api.post(f"{installer}/v1/installations/{inst['id']}/sync-jobs/{job_id}/cancel",
                              headers=h["operator"])
    assert finished.status_code == 409
    stranger = bearer(user_token(infra, org_id=uuid.uuid4(), role="admin"))
    assert (await api.get(f"{installer}/v1/installations/{inst['id']}/sync-jobs", headers=stranger)).status_code == 404
    # The error state is left by fixing the configuration and syncing successfully.
    await api.put(f"{installer}/v1/installations/{inst['id']}/configuration", headers=h["admin"], json={
        "config": {"base_url": platform.simulator_url, "client_id": platform.simulator_client_id,
                   "client_secret": platform.simulator_client_secret}})
    await api.post(f"{installer}/v1/installations/{inst['id']}/sync", headers=h["operator"])

    async def recovered():
        body = (await api.get(f"{installer}/v1/installations/{inst['id']}", headers=h["viewer"])).json()
        return body if body["last_sync_status"] == "completed" else None
    body = await wait_until(recovered, timeout=60)
    assert body and body["status"] == "enabled"
