"""Webhook settings end to end: installer rotates the signing secret, vault-gateway keeps it,
webhook-ingest (test-only import, real app) verifies deliveries with it."""

import asyncio
import json
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from aria_connector_testkit.vendors.generic_webhook.simulator import sign
from aria_platform.app import create_app
from aria_platform.testing import KafkaProbe, migrated_database, running_app

MIGRATIONS = Path(__file__).parents[2] / "webhook-ingest/src/aria_webhook_ingest/migrations"
OLD_SECRET = "installer-webhook-OLD-secret-0123456789abcdef"
LIFECYCLE = "aria.installation.lifecycle"
BODY = json.dumps({"events": [{"id": "w-1", "type": "risk", "title": "Open port", "severity": "high",
                               "status": "open"}]}).encode()


@pytest.fixture(scope="module")
async def ingest_database(infra, kafka_topics):
    return await migrated_database(infra, "webhook_ingest", MIGRATIONS)


@pytest.fixture(scope="module")
async def webhook_ingest(infra, ingest_database, vault_gateway_url):
    from aria_webhook_ingest.main import define as define_webhook_ingest
    from aria_webhook_ingest.settings import WebhookIngestSettings

    settings = WebhookIngestSettings(database_url=ingest_database, kafka_bootstrap=infra.kafka_bootstrap,
                                     jwt_secret=infra.jwt_secret, vault_gateway_url=vault_gateway_url,
                                     endpoints_group_id=f"webhook-ingest.endpoints.installer-test-{uuid.uuid4().hex[:8]}")
    async with running_app(create_app(define_webhook_ingest(settings))) as c:
        yield c


async def endpoint_at(database, installation_id, revision, timeout=60.0) -> dict:
    """webhook-ingest's view of the installation once it applied `revision`."""
    conn = await asyncpg.connect(database)
    try:
        deadline = time.monotonic() + timeout
        while True:
            row = await conn.fetchrow("SELECT * FROM webhook_endpoints WHERE installation_id = $1",
                                      uuid.UUID(installation_id))
            if row is not None and row["revision"] >= revision:
                return dict(row)
            assert time.monotonic() < deadline, f"webhook-ingest never applied revision {revision}: {row}"
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def deliver(ingest, installation_id, secret):
    # A new delivery each time, as a vendor's: the same signed content twice would be a replay.
    body = BODY.replace(b'"events"', f'"sent":"{uuid.uuid4().hex}","events"'.encode(), 1)
    headers = sign(secret, body, None, str(uuid.uuid4()))
    return await ingest.post(f"/v1/webhooks/{installation_id}", content=body, headers=headers)


async def revision_of(client, h, inst) -> int:
    return (await client.get(f"/v1/installations/{inst}", headers=h["viewer"])).json()["revision"]


async def dump(database, tables) -> str:
    conn = await asyncpg.connect(database)
    try:
        return "".join([str(dict(r)) for t in tables for r in await conn.fetch(f"SELECT * FROM {t}")])
    finally:
        await conn.close()


async def test_rotating_the_signing_secret_retires_the_old_one(client, org, infra, database, webhook_ingest,
                                                                ingest_database):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "generic_webhook"},
                              headers=h["admin"])).json()["id"]
    await client.put(f"/v1/installations/{inst}/configuration", json={"config": {"signing_secret": OLD_SECRET}},
                     headers=h["admin"])
    before = (await client.get(f"/v1/installations/{inst}/webhook", headers=h["viewer"])).json()
    assert before["supported"] and before["signing_secret_configured"] and before["secret_source"] == "connector"
    assert before["url"].endswith(f"/v1/webhooks/{inst}") and before["last_rotated_at"] is None
    await client.post(f"/v1/installations/{inst}/enable", headers=h["admin"])
    await endpoint_at(ingest_database, inst, await revision_of(client, h, inst))
    assert (await deliver(webhook_ingest, inst, OLD_SECRET)).status_code == 202

    async with KafkaProbe(infra.kafka_bootstrap, LIFECYCLE) as probe:
        rotated = await client.post(f"/v1/installations/{inst}/webhook/rotate-secret", headers=h["admin"])
        assert rotated.status_code == 200, rotated.text
        configured = await probe.wait_for(lambda e: str(e.installation_id) == inst
                                          and e.type == "installation.configured")
    new_secret = rotated.json()["signing_secret"]
    assert len(new_secret) >= 43 and rotated.headers["cache-control"] == "no-store"
    assert rotated.json()["signature_header"] == "X-Aria-Signature"
    ref = configured[0].data["webhook_credential_ref"]
    assert ref and configured[0].data["credential_ref"] != ref
    assert new_secret not in configured[0].model_dump_json()

    endpoint = await endpoint_at(ingest_database, inst, configured[0].data["revision"])
    assert endpoint["webhook_credential_ref"] == ref and endpoint["live"]
    old = await deliver(webhook_ingest, inst, OLD_SECRET)
    assert old.status_code == 401 and old.json()["code"] == "invalid_signature"
    assert (await deliver(webhook_ingest, inst, new_secret)).status_code == 202

    again = (await client.post(f"/v1/installations/{inst}/webhook/rotate-secret", headers=h["admin"])).json()
    await endpoint_at(ingest_database, inst, await revision_of(client, h, inst))
    assert (await deliver(webhook_ingest, inst, new_secret)).status_code == 401
    assert (await deliver(webhook_ingest, inst, again["signing_secret"])).status_code == 202

    after = (await client.get(f"/v1/installations/{inst}/webhook", headers=h["viewer"])).json()
    assert after["secret_source"] == "webhook_signing" and after["last_rotated_at"] and after["rotated_by"]
    log = (await client.get(f"/v1/installations/{inst}/activity?type=webhook", headers=h["viewer"])).json()["items"]
    assert [a["message"] for a in log] == ["webhook signing secret rotated"] * 2
    stored = await dump(database, ("integration_webhooks", "integration_activity_logs", "outbox",
                                   "integration_configurations")) + \
        await dump(ingest_database, ("webhook_endpoints", "webhook_deliveries"))
    for secret in (OLD_SECRET, new_secret, again["signing_secret"]):
        assert secret not in stored and secret not in json.dumps(log)


async def test_a_secret_rotated_before_configuration_travels_with_it(client, org, infra):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "generic_webhook"},
                              headers=h["admin"])).json()["id"]
    async with KafkaProbe(infra.kafka_bootstrap, LIFECYCLE) as probe:
        assert (await client.post(f"/v1/installations/{inst}/webhook/rotate-secret",
                                  headers=h["admin"])).status_code == 200
        await client.put(f"/v1/installations/{inst}/configuration", json={"config": {"signing_secret": OLD_SECRET}},
                         headers=h["admin"])
        configured = await probe.wait_for(lambda e: str(e.installation_id) == inst
                                          and e.type == "installation.configured")
        await probe.drain(0.5)
    assert len(configured) == 1, "an unconfigured installation announces nothing on rotation"
    assert configured[0].data["webhook_credential_ref"]


async def test_rotation_needs_admin_and_a_webhook_integration(client, org):
    _, h = org
    edr = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                             headers=h["admin"])).json()["id"]
    refused = await client.post(f"/v1/installations/{edr}/webhook/rotate-secret", headers=h["admin"])
    assert refused.status_code == 422 and refused.json()["code"] == "webhooks_not_supported"
    view = (await client.get(f"/v1/installations/{edr}/webhook", headers=h["viewer"])).json()
    assert view["supported"] is False and view["url"] is None
    hook = (await client.post("/v1/installations", json={"integration_key": "generic_webhook"},
                              headers=h["admin"])).json()["id"]
    operator = await client.post(f"/v1/installations/{hook}/webhook/rotate-secret", headers=h["operator"])
    assert operator.status_code == 403
    assert (await client.get(f"/v1/installations/{hook}/webhook", headers=h["viewer"])).json()[
        "signing_secret_configured"] is False
