import dataclasses
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from aria_platform.testing import KafkaProbe, bearer, migrated_database, running_app, service_token
from aria_vault_gateway.main import define
from aria_vault_gateway.settings import VaultGatewaySettings

MIGRATIONS = Path(__file__).parents[1] / "src/aria_vault_gateway/migrations"
SECRET = "s3cr3t-VAULT-GATEWAY-canary-7f1c"


@pytest.fixture(scope="module")
async def database(infra, kafka_topics):
    return await migrated_database(infra, "vault_gateway", MIGRATIONS)


def settings_for(infra, database, **overrides) -> VaultGatewaySettings:
    values = dict(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, vault_addr=infra.vault_addr,
                  vault_role_id=infra.vault_role_id, vault_secret_id=infra.vault_secret_id,
                  jwt_secret=infra.jwt_secret, outbox_poll_interval_s=0.2)
    values.update(overrides)
    return VaultGatewaySettings(**values)


@pytest.fixture(scope="module")
async def client(infra, database):
    async with running_app(__import__("aria_platform.app", fromlist=["create_app"]).create_app(
            define(settings_for(infra, database)))) as c:
        yield c


def as_service(infra, name):
    return bearer(service_token(infra, name))


async def store(client, infra, installation_id, org_id, secrets):
    return await client.put(f"/internal/v1/installations/{installation_id}/credentials/connector",
                            json={"org_id": str(org_id), "secrets": secrets}, headers=as_service(infra, "installer"))


async def test_store_then_lease_returns_the_secret_and_postgres_never_holds_it(client, infra, database):
    inst, org = uuid.uuid4(), uuid.uuid4()
    async with KafkaProbe(infra.kafka_bootstrap, "aria.credential.lifecycle") as probe:
        stored = await store(client, infra, inst, org, {"client_secret": SECRET})
        assert stored.status_code == 200, stored.text
        ref = stored.json()["credential_ref"]
        assert stored.json()["field_names"] == ["client_secret"] and SECRET not in stored.text
        events = await probe.wait_for(lambda e: e.data.get("credential_ref") == ref)
    assert events and events[0].type == "credential.stored" and SECRET not in events[0].model_dump_json()

    lease = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                              headers=as_service(infra, "sync-runner"))
    assert lease.status_code == 200 and lease.json()["secrets"] == {"client_secret": SECRET}

    conn = await asyncpg.connect(database)
    try:
        dump = ""
        for table in ("integration_credentials", "credential_audit", "outbox"):
            dump += "".join(str(dict(r)) for r in await conn.fetch(f"SELECT * FROM {table}"))
        actions = [r["action"] for r in await conn.fetch(
            "SELECT action FROM credential_audit WHERE installation_id = $1 ORDER BY id", inst)]
    finally:
        await conn.close()
    assert SECRET not in dump
    assert actions == ["store", "lease"]


async def test_lease_is_scoped_to_the_installation_and_to_allowed_services(client, infra):
    inst, org = uuid.uuid4(), uuid.uuid4()
    ref = (await store(client, infra, inst, org, {"api_key": "k"})).json()["credential_ref"]
    other = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(uuid.uuid4())},
                              headers=as_service(infra, "sync-runner"))
    assert other.status_code == 404 and other.json()["code"] == "credential_not_found"
    wrong_service = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                                      headers=as_service(infra, "catalog"))
    assert wrong_service.status_code == 403 and wrong_service.json()["code"] == "service_not_allowed"
    anonymous = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")


async def test_rotation_rewraps_and_shredding_makes_old_ciphertext_unreadable(client, infra):
    inst, org = uuid.uuid4(), uuid.uuid4()
    ref = (await store(client, infra, inst, org, {"client_secret": SECRET})).json()["credential_ref"]
    admin = httpx.Client(base_url=infra.vault_addr, headers={"X-Vault-Token": infra.vault_admin_token})
    path = f"/v1/aria-kv/data/installations/{inst}/connector"
    before = admin.get(path).json()["data"]["data"]["ciphertext"]

    rotated = await client.post(f"/internal/v1/credentials/{ref}/rotate", headers=as_service(infra, "installer"))
    assert rotated.status_code == 200 and rotated.json()["version"] == 2
    after = admin.get(path).json()["data"]["data"]["ciphertext"]
    assert before.startswith("vault:v1:") and after.startswith("vault:v2:")
    lease = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                              headers=as_service(infra, "webhook-ingest"))
    assert lease.json()["secrets"] == {"client_secret": SECRET}

    shred = await client.delete(f"/internal/v1/installations/{inst}/credentials", headers=as_service(infra, "installer"))
    assert shred.status_code == 204
    again = await client.delete(f"/internal/v1/installations/{inst}/credentials", headers=as_service(infra, "installer"))
    assert again.status_code == 204, "shredding is idempotent"
    gone = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                             headers=as_service(infra, "sync-runner"))
    assert gone.status_code == 404
    for ciphertext in (before, after):
        decrypt = admin.post(f"/v1/transit/decrypt/aria-inst-{inst}", json={"ciphertext": ciphertext})
        assert decrypt.status_code >= 400, "ciphertext must be unreadable once the key is destroyed"


async def test_vault_down_answers_503_and_writes_nothing(infra, database):
    from aria_platform.app import create_app

    settings = settings_for(infra, database, vault_addr="http://127.0.0.1:1")
    inst = uuid.uuid4()
    async with running_app(create_app(define(settings))) as down:
        response = await store(down, infra, inst, uuid.uuid4(), {"client_secret": SECRET})
        ready = await down.get("/readyz")
    assert response.status_code == 503 and response.headers["retry-after"] == "5"
    assert response.json()["code"] == "vault_unavailable" and SECRET not in response.text
    assert ready.status_code == 503 and ready.json()["checks"]["vault"].startswith("failing")
    conn = await asyncpg.connect(database)
    try:
        assert await conn.fetchval("SELECT count(*) FROM integration_credentials WHERE installation_id = $1", inst) == 0
    finally:
        await conn.close()


async def test_a_replica_leases_what_another_replica_stored_or_rotated_and_nothing_once_it_shredded(
        client, infra, database):
    """Each replica keeps ciphertexts in memory: a new value, a rotation or a shred on another must still show."""
    from aria_platform.app import create_app

    inst, org = uuid.uuid4(), uuid.uuid4()
    ref = (await store(client, infra, inst, org, {"client_secret": "first-" + SECRET})).json()["credential_ref"]

    async def lease():
        return await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                                 headers=as_service(infra, "sync-runner"))

    assert (await lease()).json()["secrets"] == {"client_secret": "first-" + SECRET}
    replica = create_app(dataclasses.replace(define(settings_for(infra, database)), kafka_routers=()))
    async with running_app(replica) as other:
        assert (await store(other, infra, inst, org, {"client_secret": SECRET})).json()["version"] == 2
        after_store = await lease()
        rotated = await other.post(f"/internal/v1/credentials/{ref}/rotate", headers=as_service(infra, "installer"))
        assert rotated.status_code == 200 and rotated.json()["version"] == 3
        after_rotation = await lease()
        shred = await other.delete(f"/internal/v1/installations/{inst}/credentials",
                                   headers=as_service(infra, "installer"))
        assert shred.status_code == 204
    assert after_store.json()["version"] == 2 and after_store.json()["secrets"] == {"client_secret": SECRET}
    assert after_rotation.json()["version"] == 3 and after_rotation.json()["secrets"] == {"client_secret": SECRET}
    after_shred = await lease()
    assert after_shred.status_code == 404 and SECRET not in after_shred.text


async def test_tokens_without_exp_or_with_a_long_lifetime_cannot_lease(client, infra):
    """Issue 17 item 5: a leaked long-lived service token must not read plaintext secrets."""
    import time

    import jwt

    from aria_platform.auth import mint_token

    inst, org = uuid.uuid4(), uuid.uuid4()
    ref = (await store(client, infra, inst, org, {"client_secret": SECRET})).json()["credential_ref"]
    now = int(time.time())
    claims = {"sub": "service:sync-runner", "svc": "sync-runner", "iss": "aria", "aud": "aria-marketplace", "iat": now}
    forged = {
        "no exp": jwt.encode(claims, infra.jwt_secret, algorithm="HS256"),
        "100 years": jwt.encode({**claims, "exp": now + 100 * 365 * 86400}, infra.jwt_secret, algorithm="HS256"),
        "no iat, a day left": jwt.encode({k: v for k, v in claims.items() if k != "iat"} | {"exp": now + 86400},
                                         infra.jwt_secret, algorithm="HS256"),
        "service for an hour": mint_token(infra.jwt_secret, subject="service:sync-runner", service="sync-runner",
                                          ttl_s=3600),
    }
    for what, token in forged.items():
        lease = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                                  headers=bearer(token))
        assert lease.status_code == 401, what
        assert lease.json()["code"] == "invalid_token" and SECRET not in lease.text, what
    minted = mint_token(infra.jwt_secret, subject="service:sync-runner", service="sync-runner")
    lease = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                              headers=bearer(minted))
    assert lease.status_code == 200, "the services' own tokens are minted within the bound"


async def test_a_store_taken_back_leaves_the_previous_version_current(client, infra):
    """Issue 17 item 4: the installer takes back a store whose configuration did not commit."""
    inst, org = uuid.uuid4(), uuid.uuid4()
    first = (await store(client, infra, inst, org, {"client_secret": SECRET})).json()
    ref = first["credential_ref"]
    revert = f"/internal/v1/credentials/{ref}/versions/{{}}/revert"
    nothing_before = await client.post(revert.format(first["version"]), headers=as_service(infra, "installer"))
    assert nothing_before.status_code == 409 and nothing_before.json()["code"] == "version_not_current"
    second = (await store(client, infra, inst, org, {"client_secret": "second-value"})).json()
    assert (await client.post(revert.format(second["version"]),
                              headers=as_service(infra, "sync-runner"))).status_code == 403

    taken_back = await client.post(revert.format(second["version"]), headers=as_service(infra, "installer"))
    assert taken_back.status_code == 200 and taken_back.json()["version"] == first["version"]
    lease = await client.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": str(inst)},
                              headers=as_service(infra, "sync-runner"))
    assert lease.json()["secrets"] == {"client_secret": SECRET}
    # Once: the version it went back to replaced nothing that could be restored.
    again = await client.post(revert.format(second["version"]), headers=as_service(infra, "installer"))
    assert again.status_code == 409
    huge = await client.post(revert.format(2**40), headers=as_service(infra, "installer"))
    assert huge.status_code == 422


async def test_a_kind_postgres_cannot_store_is_refused_before_vault_is_written(client, infra):
    """Issue 17 item 6: a NUL in `kind` was a 500 after the Vault write, leaving an orphan version."""
    import json

    inst, org = uuid.uuid4(), uuid.uuid4()
    for kind in ("con\x00nector", "lone\ud800", "x" * 65):
        refused = await client.put(
            f"/internal/v1/installations/{inst}/credentials/connector",
            content=json.dumps({"org_id": str(org), "kind": kind, "secrets": {"client_secret": SECRET}}),
            headers={**as_service(infra, "installer"), "content-type": "application/json"})
        assert refused.status_code == 422 and refused.json()["code"] == "validation_error", refused.text
    audit = await client.get(f"/internal/v1/installations/{inst}/credential-audit", headers=as_service(infra, "installer"))
    assert audit.json() == [], "nothing stored, nothing attempted"
