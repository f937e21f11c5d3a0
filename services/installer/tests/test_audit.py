"""The organization's audit evidence through the installer: the credential audit (the real
vault-gateway) and the webhook deliveries (the real webhook-ingest over HTTP, test-only import),
each checked for role, organization and paging."""

import dataclasses
import uuid
from pathlib import Path

import asyncpg
import pytest

from aria_installer.settings import InstallerSettings
from aria_platform.app import create_app
from aria_platform.testing import migrated_database, serving

WEBHOOK_INGEST_MIGRATIONS = Path(__file__).parents[2] / "webhook-ingest/src/aria_webhook_ingest/migrations"
SECRET = "audit-SECRET-canary-7d1f"
CONFIG = {"base_url": "https://api.crowdstrike.com", "client_id": "audit-client", "client_secret": SECRET}


@pytest.fixture(scope="module")
async def webhook_ingest(infra, kafka_topics, vault_gateway_url):
    from aria_webhook_ingest.main import define as define_webhook_ingest
    from aria_webhook_ingest.settings import WebhookIngestSettings

    database = await migrated_database(infra, "webhook_ingest", WEBHOOK_INGEST_MIGRATIONS)
    settings = WebhookIngestSettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap,
                                     jwt_secret=infra.jwt_secret, vault_gateway_url=vault_gateway_url)
    # HTTP only: its subscribers would join webhook-ingest's consumer groups.
    async with serving(create_app(dataclasses.replace(define_webhook_ingest(settings), kafka_routers=()))) as url:
        yield url, database


@pytest.fixture(scope="module")
def settings(infra, database, vault_gateway_url, webhook_ingest):
    return InstallerSettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                             vault_gateway_url=vault_gateway_url, webhook_ingest_url=webhook_ingest[0],
                             outbox_poll_interval_s=0.2)


async def installed(client, h) -> str:
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()["id"]
    return inst


async def test_credential_audit_is_the_orgs_own_paged_and_never_a_value(client, org, infra):
    _, h = org
    inst = await installed(client, h)
    for client_id in ("a", "b", "c"):  # three stores: three audit rows
        configured = await client.put(f"/v1/installations/{inst}/configuration", headers=h["admin"],
                                      json={"config": {**CONFIG, "client_id": client_id}})
        assert configured.status_code == 200, configured.text
    first = await client.get(f"/v1/installations/{inst}/credential-audit", params={"limit": 2}, headers=h["viewer"])
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(a["action"], a["actor"], a["outcome"]) for a in page["items"]] == [
        ("store", "service:installer", "ok")] * 2
    assert page["next_cursor"] and SECRET not in first.text
    rest = (await client.get(f"/v1/installations/{inst}/credential-audit", params={"cursor": page["next_cursor"]},
                             headers=h["viewer"])).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert rest["items"][0]["id"] < page["items"][-1]["id"]

    _, other = org_headers(infra)
    assert (await client.get(f"/v1/installations/{inst}/credential-audit", headers=other["admin"])).status_code == 404
    bad = await client.get(f"/v1/installations/{inst}/credential-audit", params={"cursor": "nope"}, headers=h["viewer"])
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    assert (await client.get(f"/v1/installations/{inst}/credential-audit")).status_code == 401


async def test_webhook_deliveries_are_the_orgs_own_and_paged(client, org, infra, webhook_ingest):
    org_id, h = org
    inst = uuid.UUID(await installed(client, h))
    conn = await asyncpg.connect(webhook_ingest[1])
    try:
        await conn.executemany(
            """INSERT INTO webhook_deliveries (installation_id, org_id, delivery_id, payload_sha256, status, reason,
                                               event_count) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [(inst, org_id, "d-1", "a" * 64, "accepted", None, 2),
             (inst, org_id, "d-1", "a" * 64, "duplicate", "delivery id already accepted", 0),
             (inst, org_id, None, "b" * 64, "rejected", "invalid_signature", 0),
             # Same installation id under another organization: never shown to this one.
             (inst, uuid.uuid4(), "stranger", "c" * 64, "accepted", None, 1)])
    finally:
        await conn.close()
    first = await client.get(f"/v1/installations/{inst}/webhook-deliveries", params={"limit": 2},
                             headers=h["viewer"])
    assert first.status_code == 200, first.text
    page = first.json()
    assert [(d["status"], d["reason"]) for d in page["items"]] == [
        ("rejected", "invalid_signature"), ("duplicate", "delivery id already accepted")]
    assert "org_id" not in page["items"][0] and page["next_cursor"]
    rest = (await client.get(f"/v1/installations/{inst}/webhook-deliveries", params={"cursor": page["next_cursor"]},
                             headers=h["viewer"])).json()
    assert [(d["delivery_id"], d["event_count"]) for d in rest["items"]] == [("d-1", 2)]
    assert rest["next_cursor"] is None

    _, other = org_headers(infra)
    assert (await client.get(f"/v1/installations/{inst}/webhook-deliveries", headers=other["viewer"])).status_code == 404
    bad = await client.get(f"/v1/installations/{inst}/webhook-deliveries", params={"cursor": "nope"},
                           headers=h["viewer"])
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


def org_headers(infra):
    from aria_platform.testing import bearer, user_token

    org_id = uuid.uuid4()
    return org_id, {role: bearer(user_token(infra, org_id=org_id, role=role)) for role in ("viewer", "admin")}
