"""A user's data mappings change what a sync and a webhook publish (issue 3): edited through the
installer's API, carried by installation.mappings_changed to sync-runner and webhook-ingest, applied
by the connector SDK. Five real processes, real Kafka, Postgres and OpenBao."""

from __future__ import annotations

import json
import uuid

import asyncpg

from aria_connector_testkit.vendors.generic_webhook.simulator import sign
from aria_platform.testing import KafkaProbe
from tests.support import wait_until

SECRET = "mapping-flow-webhook-signing-secret-7a1e-0123456789"


async def mappings_arrived(database: str, table: str, installation_id: str, revision: int) -> bool:
    """The consumer stored the set (a sync or a delivery right after an edit may still use the previous one)."""
    conn = await asyncpg.connect(database)
    try:
        stored = await conn.fetchval(f"SELECT mappings_revision FROM {table} WHERE installation_id = $1",
                                     uuid.UUID(installation_id))
    finally:
        await conn.close()
    return stored is not None and stored >= revision


async def edit(api, installer: str, h, inst: str, source: str, **changes) -> int:
    """PUT the installation's mapping of `source` with `changes`; the installation's new revision."""
    base = f"{installer}/v1/installations/{inst}/mappings"
    current = next(m for m in (await api.get(base, headers=h["viewer"])).json() if m["source_type"] == source)
    body = {k: current[k] for k in ("source_type", "target_entity", "external_id", "fields", "attributes",
                                    "transformation_rules", "filter_rules", "priority", "active")}
    response = await api.put(f"{base}/{current['id']}", json={**body, **changes}, headers=h["admin"])
    assert response.status_code == 200, response.text
    return (await api.get(f"{installer}/v1/installations/{inst}", headers=h["viewer"])).json()["revision"]


async def test_a_sync_publishes_what_the_installations_mappings_say(platform, api, org, infra):
    _, h = org
    installer = platform.urls["installer"]
    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                           headers=h["admin"])).json()["id"]
    configured = await api.put(f"{installer}/v1/installations/{inst}/configuration", headers=h["admin"], json={
        "config": {"base_url": platform.simulator_url, "client_id": platform.simulator_client_id,
                   "client_secret": platform.simulator_client_secret}, "sync_frequency": "manual"})
    assert configured.status_code == 200, configured.text

    await edit(api, installer, h, inst, "alerts", active=False)
    await edit(api, installer, h, inst, "hosts",
                          filter_rules=[{"path": "platform_name", "op": "eq", "value": "Windows"}],
                          transformation_rules=[{"field": "name", "op": "lower"},
                                                {"field": "name", "op": "prefix", "value": "edr:"}])

    # The wizard's preview already reads with the edited set.
    preview = await api.post(f"{installer}/v1/installations/{inst}/preview", headers=h["operator"])
    assert preview.status_code == 200, preview.text
    assert "risk" not in preview.json()["counts"] and preview.json()["counts"]["asset"] > 0
    assert all(s["os"] == "Windows" for s in preview.json()["samples"]["asset"])

    assert (await api.post(f"{installer}/v1/installations/{inst}/enable", headers=h["admin"])).status_code == 200
    # No waiting for installation.mappings_changed: a sync-now request carries the set it was asked with.
    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.risk", "aria.entity.asset", "aria.sync.jobs") as probe:
        assert (await api.post(f"{installer}/v1/installations/{inst}/sync", headers=h["operator"])).status_code == 202
        done = await probe.wait_for(lambda e: e.type in ("sync.completed", "sync.failed")
                                    and e.data["installation_id"] == inst, timeout=60)
        assert done and done[0].type == "sync.completed", done and done[0].data
        await probe.drain(1.0)
    ours = [e for _, e, _ in probe.seen if str(e.installation_id) == inst and e.type.endswith(".observed")]
    assert ours and {e.type for e in ours} == {"asset.observed"}, "alerts mapping is inactive: no risks"
    assert {e.data["os"] for e in ours} == {"Windows"}
    assert all(e.data["name"] == "edr:" + e.data["hostname"].lower() for e in ours)


async def test_a_webhook_publishes_what_the_installations_mappings_say(platform, api, org, infra):
    _, h = org
    installer = platform.urls["installer"]
    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "generic_webhook"},
                           headers=h["admin"])).json()["id"]
    configured = await api.put(f"{installer}/v1/installations/{inst}/configuration", headers=h["admin"],
                               json={"config": {"signing_secret": SECRET}})
    assert configured.status_code == 200, configured.text
    revision = await edit(api, installer, h, inst, "webhook.risk",
                          filter_rules=[{"path": "severity", "op": "in", "value": ["high", "critical"]}],
                          transformation_rules=[{"field": "title", "op": "upper"}])
    assert (await api.post(f"{installer}/v1/installations/{inst}/enable", headers=h["admin"])).status_code == 200
    assert await wait_until(lambda: mappings_arrived(platform.databases["webhook-ingest"], "webhook_endpoints",
                                                     inst, revision))
    url = f"{platform.urls['webhook-ingest']}/v1/webhooks/{inst}"

    async def live():
        return (await api.post(url, content=b"{}", headers={"content-type": "application/json"})).status_code != 404
    assert await wait_until(live)

    body = json.dumps({"events": [
        {"id": "m-1", "type": "risk", "title": "Public bucket", "severity": "critical"},
        {"id": "m-2", "type": "risk", "title": "Old TLS", "severity": "low"},
    ]}).encode()
    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.risk", "aria.webhook.received") as probe:
        accepted = await api.post(url, content=body, headers=sign(SECRET, body, delivery_id="mapping-d-1"))
        assert accepted.status_code == 202, accepted.text
        await probe.wait_for(lambda e: e.type == "webhook.received" and str(e.installation_id) == inst)
        await probe.drain(1.0)
    risks = [e.data for _, e, _ in probe.seen if str(e.installation_id) == inst and e.type == "risk.observed"]
    assert [(r["provenance"]["external_id"], r["title"]) for r in risks] == [("m-1", "PUBLIC BUCKET")]
