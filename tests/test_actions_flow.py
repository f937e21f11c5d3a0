"""Issue 18, actions on demand, through the real services (installer accepts and records runs,
sync-runner executes them once), on real Kafka, Postgres and OpenBao, against vendor simulators."""

from __future__ import annotations

import hashlib
import uuid

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from aria_connector_testkit.simulators import create_app as create_simulator
from aria_contracts import Envelope, entity_id
from aria_contracts.events import Alert, Provenance, Risk
from aria_platform import kafka
from aria_platform.testing import KafkaProbe, serve_in_thread
from tests.support import wait_until

JIRA_EMAIL, JIRA_TOKEN = "actions@example.com", "jira-actions-token-9f3e"
MDE_CLIENT, MDE_SECRET = "actions-client", "mde-actions-secret-51ab"
MDE_TENANT = "6b5c2f1e-0c7d-4f0a-9a51-3f1d2c4b5a69"


@pytest.fixture(scope="module")
def jira():
    # No seeded issues: the one the action opens is SEC-1, the first the simulator's status bump moves.
    app = create_simulator("jira_cloud", seed=3, issues=0, email=JIRA_EMAIL, api_token=JIRA_TOKEN, project="SEC",
                           rate_limit=100000, rate_window_seconds=1)
    with serve_in_thread(app, name="jira-simulator") as url:
        yield url


@pytest.fixture(scope="module")
def defender():
    app = create_simulator("microsoft_defender_endpoint", seed=4, alerts=3, machines=2, vulnerabilities=0,
                           indicators=0, client_id=MDE_CLIENT, client_secret=MDE_SECRET, rate_limit=100000,
                           rate_window_seconds=1)
    with serve_in_thread(app, name="defender-simulator") as url:
        yield url, app.state.simulator


@pytest.fixture(scope="module")
async def producer(infra):
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await p.start()
    yield p
    await p.stop()


async def publish(producer: AIOKafkaProducer, envelope: Envelope) -> None:
    await producer.send_and_wait(kafka.topic_for(envelope), kafka.encode(envelope), key=envelope.key.encode(),
                                 headers=[(k, v.encode()) for k, v in kafka.headers_for(envelope).items()])


async def installed(api: httpx.AsyncClient, installer: str, admin: dict, key: str, config: dict) -> str:
    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": key}, headers=admin)).json()
    configured = await api.put(f"{installer}/v1/installations/{inst['id']}/configuration", headers=admin,
                               json={"config": config, "sync_frequency": "manual"})
    assert configured.status_code == 200, configured.text
    assert (await api.post(f"{installer}/v1/installations/{inst['id']}/enable", headers=admin)).status_code == 200
    return inst["id"]


async def finished(api: httpx.AsyncClient, url: str, headers: dict) -> dict:
    async def done():
        body = (await api.get(url, headers=headers)).json()
        return body if body["status"] != "pending" else None
    result = await wait_until(done, timeout=60)
    assert result, f"{url} still pending"
    return result


async def seen_by_sync_runner(platform, entity: uuid.UUID) -> None:
    """sync-runner keeps the risks it consumes; a run by entity id waits only briefly for one."""
    async def seen():
        conn = await asyncpg.connect(platform.databases["sync-runner"])
        try:
            return await conn.fetchval("SELECT 1 FROM action_entities WHERE entity_id = $1", entity)
        finally:
            await conn.close()
    assert await wait_until(seen, timeout=60)


async def test_an_operator_opens_a_jira_ticket_from_a_risk_and_its_status_flows_back(platform, api, org, infra,
                                                                                    jira, producer):
    org_id, h = org
    installer = platform.urls["installer"]
    inst = await installed(api, installer, h["admin"], "jira_cloud", {
        "base_url": jira, "email": JIRA_EMAIL, "api_token": JIRA_TOKEN, "project_key": "SEC"})

    listed = await api.get(f"{installer}/v1/installations/{inst}/actions", headers=h["viewer"])
    assert listed.status_code == 200, listed.text
    actions = {a["name"]: a for a in listed.json()["items"]}
    assert set(actions) == {"create_ticket", "update_ticket", "add_comment"}
    create = actions["create_ticket"]
    assert create["min_role"] == "operator" and not create["destructive"] and create["input_type"] == "risk"
    assert create["input_schema"]["oneOf"] == [{"required": ["entity_id"]}, {"required": ["event"]}]
    assert actions["add_comment"]["input_schema"]["required"] == ["vendor_id", "comment"]

    # A risk the platform has seen (CrowdStrike's, on the entity topic).
    risk = Risk(entity_id=entity_id(org_id=org_id, integration_key="crowdstrike_falcon", entity_type="risk",
                                    external_id="ldt:actions-1"),
                org_id=org_id, title="Credential dumping on wks-0042", severity="high", status="open",
                provenance=Provenance(installation_id=uuid.uuid4(), integration_key="crowdstrike_falcon",
                                      connector_version="1.0.0", stream="alerts", external_id="ldt:actions-1",
                                      raw_sha256=hashlib.sha256(b"actions-1").hexdigest()))
    await publish(producer, Envelope.wrap(risk, source="sync-runner", org_id=org_id,
                                          installation_id=risk.provenance.installation_id))
    await seen_by_sync_runner(platform, risk.entity_id)

    runs = f"{installer}/v1/installations/{inst}/actions/create_ticket/runs"
    body = {"entity_id": str(risk.entity_id)}
    key = {"Idempotency-Key": f"ticket-{risk.entity_id}"}
    refused = await api.post(runs, json=body, headers={**h["viewer"], **key})
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role"
    invalid = await api.post(runs, json={"vendor_id": "SEC-9"}, headers={**h["operator"], "Idempotency-Key": "x-1"})
    assert invalid.status_code == 422 and invalid.json()["code"] == "action_input_invalid", invalid.text
    assert invalid.headers["content-type"].startswith("application/problem+json")

    async with KafkaProbe(infra.kafka_bootstrap, "aria.action.runs", "aria.entity.ticket") as probe:
        accepted = await api.post(runs, json=body, headers={**h["operator"], **key})
        assert accepted.status_code == 202, accepted.text
        run = accepted.json()
        assert run["status"] == "pending" and run["requested_by"] and run["input"] == body
        done = await finished(api, f"{installer}/v1/installations/{inst}/action-runs/{run['id']}", h["viewer"])
        completed = await probe.wait_for(lambda e: e.type == "action.completed" and e.data["run_id"] == run["id"])
        await probe.wait_for(lambda e: e.type == "ticket.observed" and e.org_id == org_id)
    assert done["status"] == "succeeded" and done["vendor_status"] == "created", done
    assert done["vendor_id"] == "SEC-1" and done["vendor_url"].endswith("/browse/SEC-1")
    assert completed and completed[0].data["entity_id"] == str(risk.entity_id)
    [ticket] = [e for _, e, _ in probe.seen if e.type == "ticket.observed" and e.org_id == org_id]
    assert ticket.data["linked_entity_id"] == str(risk.entity_id) and ticket.data["vendor_ticket_id"] == "SEC-1"

    # The retried request is the same run: nothing new reaches Jira.
    again = await api.post(runs, json=body, headers={**h["operator"], **key})
    assert again.status_code == 200 and again.json()["id"] == run["id"]
    reused = await api.post(runs, json={"event": risk.model_dump(mode="json")}, headers={**h["operator"], **key})
    assert reused.status_code == 422 and reused.json()["code"] == "idempotency_key_reused"
    async with httpx.AsyncClient(base_url=jira) as sim:
        assert (await sim.get("/_sim/state")).json()["created"] == 1

    page = (await api.get(f"{installer}/v1/installations/{inst}/action-runs", headers=h["viewer"])).json()
    assert [r["id"] for r in page["items"]] == [run["id"]] and page["next_cursor"] is None
    activity = (await api.get(f"{installer}/v1/installations/{inst}/activity", headers=h["viewer"])).json()["items"]
    asked = next(a for a in activity if a["activity_type"] == "action")
    assert asked["details"]["input"] == body and asked["details"]["run_id"] == run["id"] and asked["actor"]
    assert any(a["activity_type"] == "action_result" and a["status"] == "success" for a in activity)
    assert JIRA_TOKEN not in str(activity) and JIRA_TOKEN not in str(done)

    # Someone starts work on the issue in Jira; the next sync brings the status back to the risk.
    async with httpx.AsyncClient(base_url=jira) as sim:
        await sim.post("/_sim/records", json={"stream": "issues", "count": 0, "update": 1})
    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.risk", "aria.entity.ticket") as probe:
        sync = await api.post(f"{installer}/v1/installations/{inst}/sync", headers=h["operator"])
        assert sync.status_code == 202
        followed = await probe.wait_for(lambda e: e.type == "risk.observed"
                                        and e.data["entity_id"] == str(risk.entity_id), timeout=90)
        tickets = await probe.wait_for(lambda e: e.type == "ticket.observed" and e.org_id == org_id)
    assert followed[0].data["status"] == "in_progress"
    assert followed[0].data["attributes"]["ticket_status"]["vendor_id"] == "SEC-1"
    assert tickets[0].data["status"] == "in_progress" and tickets[0].data["linked_entity_id"] == str(risk.entity_id)


async def test_a_destructive_action_needs_an_admin_and_reaches_the_vendor_once(platform, api, org, defender):
    org_id, h = org
    url, simulator = defender
    installer = platform.urls["installer"]
    inst = await installed(api, installer, h["admin"], "microsoft_defender_endpoint", {
        "tenant_id": MDE_TENANT, "client_id": MDE_CLIENT, "client_secret": MDE_SECRET, "api_url": url,
        "login_url": url})
    actions = {a["name"]: a for a in (await api.get(f"{installer}/v1/installations/{inst}/actions",
                                                    headers=h["operator"])).json()["items"]}
    assert actions["update_alert_status"]["destructive"] and actions["update_alert_status"]["min_role"] == "admin"

    alert_id = sorted(simulator.data.tables["alerts"])[0]
    alert = Alert(entity_id=entity_id(org_id=org_id, integration_key="microsoft_defender_endpoint",
                                      entity_type="alert", external_id=alert_id),
                  org_id=org_id, title="Suspicious PowerShell", severity="medium", status="new",
                  provenance=Provenance(installation_id=uuid.UUID(inst), integration_key="microsoft_defender_endpoint",
                                        connector_version="1.0.0", stream="alerts", external_id=alert_id,
                                        raw_sha256=hashlib.sha256(alert_id.encode()).hexdigest()))
    body = {"event": alert.model_dump(mode="json"), "changes": {"status": "resolved"}, "comment": "Benign admin task"}
    runs = f"{installer}/v1/installations/{inst}/actions/update_alert_status/runs"
    key = {"Idempotency-Key": str(uuid.uuid4())}

    refused = await api.post(runs, json=body, headers={**h["operator"], **key})
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "insufficient_role" and "destructive" in refused.json()["detail"]
    first = await api.post(runs, json=body, headers={**h["admin"], **key})
    assert first.status_code == 202, first.text
    retried = await api.post(runs, json=body, headers={**h["admin"], **key})  # e.g. the answer was lost
    assert retried.status_code == 200 and retried.json()["id"] == first.json()["id"]
    done = await finished(api, f"{installer}/v1/installations/{inst}/action-runs/{first.json()['id']}", h["viewer"])
    assert done["status"] == "succeeded" and done["vendor_id"] == alert_id and done["vendor_status"] == "updated"

    async with httpx.AsyncClient(base_url=url) as sim:
        state = (await sim.get("/_sim/state")).json()
    assert state["requests"][f"/api/alerts/{alert_id}"] == 1
    assert simulator.data.tables["alerts"][alert_id]["status"] == "Resolved"
    listed = (await api.get(f"{installer}/v1/installations/{inst}/action-runs",
                            params={"action": "update_alert_status"}, headers=h["viewer"])).json()["items"]
    assert len(listed) == 1 and listed[0]["destructive"]
