"""Issue 5, "Proof that nothing leaks": a recognizable secret goes through the whole lifecycle of
two installations (a CrowdStrike sync connector and a generic HMAC webhook) on the real
processes, and afterwards appears in no Postgres row of any service, no Kafka record (value or
header) of any registry topic, and no service log - neither as itself nor base64-encoded. After
uninstall, the ciphertexts OpenBao held (before and after rotation) no longer decrypt.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx
import pytest

from aria_connector_testkit.vendors.generic_webhook.simulator import sign
from aria_contracts.topics import REGISTRY
from aria_platform.testing import KafkaProbe, bearer, free_port, service_token, user_token
from tests.support import base64_forms, database_rows, topic_history, wait_until, webhook_installation

CANARY = f"leak-canary-{uuid.uuid4().hex}"  # 45 characters: also long enough for a webhook signing secret


@pytest.fixture(scope="module")
def canary_vendor(platform, tmp_path_factory):
    """A CrowdStrike simulator whose API client secret is the canary (the vendor's side may know it)."""
    port = free_port()
    log = tmp_path_factory.mktemp("canary-vendor") / "simulator.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "aria_connector_testkit.simulators", "serve", "crowdstrike_falcon", "--port", str(port),
         "--records", "25", "--client-id", "leak-test-client", "--client-secret", CANARY],
        stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{url}/_sim/state", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        time.sleep(0.2)
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=10)


def _kv_ciphertext(infra, installation_id: str, name: str) -> str:
    stored = httpx.get(f"{infra.vault_addr}/v1/aria-kv/data/installations/{installation_id}/{name}",
                       headers={"X-Vault-Token": infra.vault_admin_token})
    assert stored.status_code == 200, stored.text
    return stored.json()["data"]["data"]["ciphertext"]


async def _credential_ref(platform, installation_id: str) -> str:
    conn = await asyncpg.connect(platform.databases["installer"])
    try:
        ref = await conn.fetchval("SELECT credential_ref FROM integration_configurations WHERE installation_id = $1",
                                  uuid.UUID(installation_id))
    finally:
        await conn.close()
    assert ref is not None
    return str(ref)


async def test_secret_appears_nowhere_after_the_whole_lifecycle(platform, infra, canary_vendor):
    org_id = uuid.uuid4()
    admin = bearer(user_token(infra, org_id=org_id, role="admin"))
    installer_svc = bearer(service_token(infra, "installer"))
    runner_svc = bearer(service_token(infra, "sync-runner"))
    installer, gateway = platform.urls["installer"], platform.urls["vault-gateway"]

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(keepalive_expiry=2.0)) as api:
        # -- install, configure (the canary is the API client secret), test --------------------
        sync_inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                                    headers=admin)).json()["id"]
        configured = await api.put(f"{installer}/v1/installations/{sync_inst}/configuration", headers=admin, json={
            "config": {"base_url": canary_vendor, "client_id": "leak-test-client", "client_secret": CANARY},
            "sync_frequency": "manual"})
        assert configured.status_code == 200, configured.text
        assert CANARY not in configured.text
        ref = await _credential_ref(platform, sync_inst)
        ciphertexts = [_kv_ciphertext(infra, sync_inst, "connector")]
        tested = await api.post(f"{installer}/v1/installations/{sync_inst}/test", headers=admin)
        assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text

        # -- sync -------------------------------------------------------------------------------
        assert (await api.post(f"{installer}/v1/installations/{sync_inst}/enable", headers=admin)).status_code == 200
        async with KafkaProbe(infra.kafka_bootstrap, "aria.sync.jobs") as probe:
            assert (await api.post(f"{installer}/v1/installations/{sync_inst}/sync", headers=admin)).status_code == 202
            done = await probe.wait_for(lambda e: e.type in ("sync.completed", "sync.failed")
                                        and e.data["installation_id"] == sync_inst, timeout=90)
        assert done and done[0].type == "sync.completed", done and done[0].data
        assert done[0].data["published_events"] > 0

        # -- rotate (vault-gateway's internal endpoint, as the installer calls it) ---------------
        rotated = await api.post(f"{gateway}/internal/v1/credentials/{ref}/rotate", headers=installer_svc)
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["version"] > 1
        ciphertexts.append(_kv_ciphertext(infra, sync_inst, "connector"))
        assert ciphertexts[0] != ciphertexts[1]
        # The rewrapped credential still works, through the whole path.
        tested = await api.post(f"{installer}/v1/installations/{sync_inst}/test", headers=admin)
        assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text

        # -- the same value as a webhook signing secret: webhook-ingest leases and uses it -------
        hook_inst = await webhook_installation(api, installer, admin, CANARY)
        hook_url = f"{platform.urls['webhook-ingest']}/v1/webhooks/{hook_inst}"
        body = json.dumps({"events": [{"id": "leak-1", "type": "risk", "title": "t", "severity": "low"}]}).encode()

        async def accepted():
            response = await api.post(hook_url, content=body, headers=sign(CANARY, body, delivery_id="leak-d1"))
            return response.status_code in (200, 202)  # 404 until the lifecycle event reached webhook-ingest
        assert await wait_until(accepted)
        forged = await api.post(hook_url, content=body, headers=sign("x" * 40, body, delivery_id="leak-d2"))
        assert forged.status_code == 401 and CANARY not in forged.text

        # -- uninstall: both credentials are crypto-shredded -------------------------------------
        for inst in (sync_inst, hook_inst):
            assert (await api.delete(f"{installer}/v1/installations/{inst}", headers=admin)).status_code == 204

        async def shredded():
            lease = await api.post(f"{gateway}/internal/v1/credentials/{ref}/lease",
                                   json={"installation_id": sync_inst}, headers=runner_svc)
            return lease.status_code == 404
        assert await wait_until(shredded)

    # Old ciphertext, before and after rotation, can no longer be decrypted by anyone.
    for ciphertext in ciphertexts:
        gone = httpx.post(f"{infra.vault_addr}/v1/transit/decrypt/aria-inst-{sync_inst}",
                          json={"ciphertext": ciphertext}, headers={"X-Vault-Token": infra.vault_admin_token})
        assert gone.status_code >= 400, gone.text
    kv = httpx.get(f"{infra.vault_addr}/v1/aria-kv/data/installations/{sync_inst}/connector",
                   headers={"X-Vault-Token": infra.vault_admin_token})
    assert kv.status_code == 404

    # Everything the run left behind; the outboxes first drain (shred events are still in flight).
    async def outboxes_empty():
        for url in platform.databases.values():
            conn = await asyncpg.connect(url)
            try:
                if await conn.fetchval("SELECT count(*) FROM outbox"):
                    return False
            finally:
                await conn.close()
        return True
    assert await wait_until(outboxes_empty)

    needles = [CANARY.encode(), *base64_forms(CANARY.encode())]
    marker = sync_inst.encode()  # proves each search actually covered this run's data

    rows = [(f"{service}:{table}", text.encode()) for service, url in platform.databases.items()
            for table, text in await database_rows(url)]
    assert any(marker in text for _, text in rows)
    assert [where for where, text in rows if any(n in text for n in needles)] == []

    records = await topic_history(infra.kafka_bootstrap, [t.name for t in REGISTRY])
    assert any(marker in value for _, value, _ in records)
    leaked = [topic for topic, value, headers in records
              if any(n in value or any(n in k.encode() + b"=" + (v or b"") for k, v in headers) for n in needles)]
    assert leaked == []

    services = [name for name in platform.logs if name != "simulator"]  # the vendor's side may know it
    for service in services:
        text = platform.logs[service].read_bytes()
        assert not any(n in text for n in needles), f"the secret is in {service}'s log"
    assert any(marker in platform.logs[s].read_bytes() for s in services)
