"""Scheduled rotation by each credential's frequency, and the audit trail of leases with their caller."""

import asyncio
import dataclasses
import time
import uuid
from pathlib import Path

import asyncpg

from aria_platform.app import create_app
from aria_platform.testing import bearer, migrated_database, running_app, service_token
from aria_vault_gateway.main import define
from aria_vault_gateway.settings import VaultGatewaySettings

MIGRATIONS = Path(__file__).parents[1] / "src/aria_vault_gateway/migrations"


def settings_for(infra, database, **overrides) -> VaultGatewaySettings:
    return VaultGatewaySettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, vault_addr=infra.vault_addr,
                                vault_role_id=infra.vault_role_id, vault_secret_id=infra.vault_secret_id,
                                jwt_secret=infra.jwt_secret, outbox_poll_interval_s=0.2, **overrides)


def http_only(settings):
    """No shredder subscriber: these tests publish no lifecycle events."""
    return create_app(dataclasses.replace(define(settings), kafka_routers=()))


async def store(client, infra, installation_id, *, rotation_frequency_days=None, secret="s3cr3t-rotation"):
    response = await client.put(f"/internal/v1/installations/{installation_id}/credentials/connector",
                                headers=bearer(service_token(infra, "installer")),
                                json={"org_id": str(uuid.uuid4()), "secrets": {"api_key": secret},
                                      "rotation_frequency_days": rotation_frequency_days})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_maintenance_loop_rotates_credentials_that_are_due(infra, kafka_topics):
    database = await migrated_database(infra, "vault_gateway", MIGRATIONS)
    conn = await asyncpg.connect(database)
    try:
        async with running_app(http_only(settings_for(infra, database))) as client:
            due, fresh, manual = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            due_ref = (await store(client, infra, due, rotation_frequency_days=1, secret="due-secret"))["credential_ref"]
            await store(client, infra, fresh, rotation_frequency_days=30)
            await store(client, infra, manual)
            # Last rotated two days ago: due under a one-day frequency.
            await conn.execute("UPDATE integration_credentials SET created_at = now() - interval '2 days', "
                               "last_rotated_at = now() - interval '2 days' WHERE installation_id = $1", due)

        async with running_app(http_only(settings_for(infra, database, rotation_check_interval_s=0.2))) as client:
            deadline = time.monotonic() + 20
            while await conn.fetchval("SELECT current_version FROM integration_credentials WHERE installation_id = $1",
                                      due) < 2:
                assert time.monotonic() < deadline, "the scheduled rotation never ran"
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # a few more rounds: nothing else is due, nothing rotates twice
            lease = await client.post(f"/internal/v1/credentials/{due_ref}/lease", json={"installation_id": str(due)},
                                      headers=bearer(service_token(infra, "sync-runner")))
        rows = {r["installation_id"]: dict(r) for r in await conn.fetch(
            "SELECT installation_id, current_version, last_rotated_at > now() - interval '1 minute' AS just_rotated "
            "FROM integration_credentials")}
        audit = await conn.fetch("SELECT action, actor, outcome FROM credential_audit WHERE installation_id = $1 "
                                 "ORDER BY id", due)
    finally:
        await conn.close()
    assert rows[due]["current_version"] == 2 and rows[due]["just_rotated"]
    assert rows[fresh]["current_version"] == 1 and rows[manual]["current_version"] == 1
    assert lease.status_code == 200 and lease.json()["secrets"] == {"api_key": "due-secret"}, "rewrapped, still readable"
    assert [tuple(r) for r in audit] == [("store", "service:installer", "ok"), ("rotate", "scheduler", "ok"),
                                        ("lease", "service:sync-runner", "ok")]


async def test_every_lease_is_audited_with_its_caller_and_never_the_value(infra, kafka_topics):
    database = await migrated_database(infra, "vault_gateway", MIGRATIONS)
    secret = "audit-canary-SECRET-a8d2"
    async with running_app(http_only(settings_for(infra, database))) as client:
        inst = uuid.uuid4()
        ref = (await store(client, infra, inst, secret=secret))["credential_ref"]
        for caller in ("sync-runner", "webhook-ingest"):
            leased = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                                       headers=bearer(service_token(infra, caller)))
            assert leased.status_code == 200
        probing = await client.post(f"/internal/v1/credentials/{ref}/lease",
                                    json={"installation_id": str(uuid.uuid4())},
                                    headers=bearer(service_token(infra, "webhook-ingest")))
        assert probing.status_code == 404
        trail = await client.get(f"/internal/v1/installations/{inst}/credential-audit",
                                 headers=bearer(service_token(infra, "installer")))
        refused = await client.get(f"/internal/v1/installations/{inst}/credential-audit",
                                   headers=bearer(service_token(infra, "sync-runner")))
    assert refused.status_code == 403
    assert [(a["action"], a["actor"], a["outcome"]) for a in reversed(trail.json())] == [
        ("store", "service:installer", "ok"), ("lease", "service:sync-runner", "ok"),
        ("lease", "service:webhook-ingest", "ok")]
    assert all(a["at"] and a["credential_ref"] == ref for a in trail.json())
    conn = await asyncpg.connect(database)
    try:
        denied = await conn.fetchrow("SELECT actor, outcome, reason FROM credential_audit WHERE credential_ref = $1 "
                                     "AND installation_id <> $2", uuid.UUID(ref), inst)
        dump = "".join([str(dict(r)) for r in await conn.fetch("SELECT * FROM credential_audit")])
    finally:
        await conn.close()
    assert dict(denied) == {"actor": "service:webhook-ingest", "outcome": "denied",
                            "reason": "no such credential for this installation"}
    assert secret not in dump and secret not in trail.text
