"""Issue 18, automation rules, through the real services (the installer owns rules, sync-runner
evaluates entity events and executes matches through its actions executor), on real Kafka,
Postgres and OpenBao, against the CrowdStrike and ServiceNow simulators."""

from __future__ import annotations

import hashlib
import uuid

import asyncpg
import httpx
import pytest

from aria_connector_testkit.simulators import create_app as create_simulator
from aria_contracts import Envelope, entity_id
from aria_contracts.events import Provenance, Risk
from aria_platform.testing import KafkaProbe, serve_in_thread
from tests.support import Services, wait_until
from tests.test_actions_flow import installed, producer, publish  # noqa: F401 (producer is a fixture)

SN_USER, SN_PASSWORD = "aria.rules", "servicenow-rules-pw-7c1d"
FALCON_ID, FALCON_SECRET = "rules-falcon", "falcon-rules-secret-3b9e"


def servicenow_simulator():
    app = create_simulator("servicenow_itsm", seed=8, incidents=0, username=SN_USER, password=SN_PASSWORD,
                           rate_limit=100000, rate_window_seconds=1)
    return serve_in_thread(app, name="servicenow-simulator")


@pytest.fixture
def servicenow():
    with servicenow_simulator() as url:
        yield url


@pytest.fixture
def falcon():
    """Four CrowdStrike alerts, exactly one of them high (and new: an open risk)."""
    app = create_simulator("crowdstrike_falcon", seed=21, alerts=4, hosts=1, client_id=FALCON_ID,
                           client_secret=FALCON_SECRET, rate_limit=100000, rate_window_seconds=1)
    data = app.state.simulator.data
    for i, alert in enumerate(data.alerts.values()):
        alert.update(severity=80 if i == 0 else 30, status="new")
        if "severity_name" in alert:
            alert["severity_name"] = "High" if i == 0 else "Low"
    data.version += 1
    with serve_in_thread(app, name="falcon-simulator") as url:
        yield url


@pytest.fixture
def services(platform):
    control = Services(platform)
    try:
        yield control
    finally:
        control.restore()


async def sync_runner_db(platform, query: str, *args):
    conn = await asyncpg.connect(platform.databases["sync-runner"])
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def rule_kept(platform, rule_id: str, version: int = 1) -> None:
    """sync-runner keeps the rule (from aria.automation.rules) before the entities it should see."""
    async def kept():
        return await sync_runner_db(platform, "SELECT 1 FROM automation_rules WHERE rule_id = $1 AND version >= $2",
                                    uuid.UUID(rule_id), version)
    assert await wait_until(kept, timeout=60), "sync-runner never received the rule"


async def executions(platform, rule_id: str) -> list[dict]:
    return [dict(r) for r in await sync_runner_db(platform, "SELECT * FROM rule_executions WHERE rule_id = $1",
                                                  uuid.UUID(rule_id))]


def servicenow_config(url: str, password: str = SN_PASSWORD) -> dict:
    return {"instance_url": url, "username": SN_USER, "password": password}


def high_risk_rule(target: str, name: str = "High CrowdStrike risks to ServiceNow") -> dict:
    return {"name": name,
            "trigger": {"entity_type": "risk", "min_severity": "high", "source_integration_keys": ["crowdstrike_falcon"]},
            "action": {"installation_id": target, "action": "create_ticket"}}


def falcon_risk(org_id: uuid.UUID, external_id: str, severity: str = "high") -> Risk:
    return Risk(entity_id=entity_id(org_id=org_id, integration_key="crowdstrike_falcon", entity_type="risk",
                                    external_id=external_id),
                org_id=org_id, title=f"Credential dumping ({external_id})", severity=severity, status="open",
                provenance=Provenance(installation_id=uuid.uuid4(), integration_key="crowdstrike_falcon",
                                      connector_version="1.0.0", stream="alerts", external_id=external_id,
                                      raw_sha256=hashlib.sha256(external_id.encode()).hexdigest()))


async def sim_state(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url) as sim:
        return (await sim.get("/_sim/state")).json()


async def test_a_rule_turns_a_high_crowdstrike_risk_into_one_servicenow_ticket_across_a_restart(
        platform, api, org, infra, servicenow, falcon, services):
    _, h = org
    installer = platform.urls["installer"]
    target = await installed(api, installer, h["admin"], "servicenow_itsm", servicenow_config(servicenow))
    source = await installed(api, installer, h["admin"], "crowdstrike_falcon", {
        "base_url": falcon, "client_id": FALCON_ID, "client_secret": FALCON_SECRET})
    created = await api.post(f"{installer}/v1/rules", json=high_risk_rule(target), headers=h["admin"])
    assert created.status_code == 201, created.text
    rule = created.json()
    await rule_kept(platform, rule["id"])

    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.risk") as probe:
        assert (await api.post(f"{installer}/v1/installations/{source}/sync", headers=h["operator"])).status_code == 202
        risks = await probe.wait_for(lambda e: e.type == "risk.observed"
                                     and e.data["provenance"]["installation_id"] == source, count=4, timeout=90)
    high = [e.data["entity_id"] for e in risks if e.data["severity"] == "high"]
    assert len(high) == 1, [e.data["severity"] for e in risks]

    # The ticket is requested: sync-runner is killed (no shutdown hook runs) and started again.
    assert await wait_until(lambda: executions(platform, rule["id"]), timeout=60)
    services.kill("sync-runner")
    services.start("sync-runner")

    async def succeeded():
        rows = await executions(platform, rule["id"])
        return rows if rows and rows[0]["status"] == "succeeded" else None
    done = await wait_until(succeeded, timeout=90)
    assert done and len(done) == 1 and str(done[0]["entity_id"]) == high[0], done

    # The same risks again (a full sync republishes them unchanged): nothing more is asked.
    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.risk") as probe:
        assert (await api.post(f"{installer}/v1/installations/{source}/sync", json={"sync_type": "full"},
                               headers=h["operator"])).status_code == 202
        await probe.wait_for(lambda e: e.type == "risk.observed" and e.data["entity_id"] == high[0], timeout=90)
        await probe.drain(3.0)
    assert len(await executions(platform, rule["id"])) == 1
    state = await sim_state(servicenow)
    assert state["created"] == 1, state
    assert state["streams"]["incidents"]["records"] == 1

    listed = (await api.get(f"{installer}/v1/rules/{rule['id']}/executions", headers=h["viewer"])).json()["items"]
    assert [(e["status"], e["entity_id"], e["action"]) for e in listed] == [("succeeded", high[0], "create_ticket")]
    assert listed[0]["vendor_id"] and listed[0]["vendor_status"] in ("created", "duplicate")


async def test_a_dry_run_shows_the_match_without_calling_the_vendor(platform, api, infra, servicenow, producer):
    org_id = uuid.uuid4()
    from aria_platform.testing import bearer, user_token

    h = {role: bearer(user_token(infra, org_id=org_id, role=role)) for role in ("viewer", "admin")}
    installer = platform.urls["installer"]
    target = await installed(api, installer, h["admin"], "servicenow_itsm", servicenow_config(servicenow))
    high, low = falcon_risk(org_id, "ldt:dry-1"), falcon_risk(org_id, "ldt:dry-2", severity="low")
    for risk in (high, low):
        await publish(producer, Envelope.wrap(risk, source="sync-runner", org_id=org_id,
                                              installation_id=risk.provenance.installation_id))

    async def kept():
        rows = await sync_runner_db(platform, "SELECT entity_id FROM action_entities WHERE org_id = $1", org_id)
        return len(rows) == 2
    assert await wait_until(kept, timeout=60)

    answer = await api.post(f"{installer}/v1/rules/dry-run", json={"rule": high_risk_rule(target)},
                            headers=h["viewer"])
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["evaluated"] == 2 and result["matched"] == 1 and result["target_enabled"]
    [match] = result["matches"]
    assert match["entity_id"] == str(high.entity_id) and match["input"] == {"entity_id": str(high.entity_id)}
    assert match["errors"] == [] and match["summary"]["severity"] == "high"

    # A mapping that yields an input the action refuses is shown, not run.
    bad = high_risk_rule(target)
    bad["action"]["input"] = {"entity_id": "title"}
    shown = (await api.post(f"{installer}/v1/rules/dry-run", json={"rule": bad}, headers=h["viewer"])).json()
    assert shown["matches"][0]["errors"] and shown["matches"][0]["errors"][0]["field"].startswith("action.input")

    saved = (await api.post(f"{installer}/v1/rules", json=high_risk_rule(target), headers=h["admin"])).json()
    again = (await api.post(f"{installer}/v1/rules/{saved['id']}/dry-run", headers=h["viewer"])).json()
    assert [m["entity_id"] for m in again["matches"]] == [str(high.entity_id)]

    state = await sim_state(servicenow)
    # (Health checks read the incident table; nothing was written to it.)
    assert state["created"] == 0 and state["streams"]["incidents"]["records"] == 0, state
    assert await executions(platform, saved["id"]) == []


async def test_a_permanent_failure_is_dead_lettered_and_a_retry_succeeds_once_fixed(platform, api, infra, servicenow,
                                                                                  producer):
    org_id = uuid.uuid4()
    from aria_platform.testing import bearer, user_token

    h = {role: bearer(user_token(infra, org_id=org_id, role=role)) for role in ("viewer", "operator", "admin")}
    installer = platform.urls["installer"]
    # A wrong password: ServiceNow answers 401, an authentication error, which no retry fixes.
    target = await installed(api, installer, h["admin"], "servicenow_itsm",
                             servicenow_config(servicenow, password="not-the-password"))
    rule = (await api.post(f"{installer}/v1/rules", json=high_risk_rule(target), headers=h["admin"])).json()
    await rule_kept(platform, rule["id"])

    risk = falcon_risk(org_id, "ldt:dead-1")
    async with KafkaProbe(infra.kafka_bootstrap, "aria.deadletter") as probe:
        await publish(producer, Envelope.wrap(risk, source="sync-runner", org_id=org_id,
                                              installation_id=risk.provenance.installation_id))
        dead = await probe.wait_for(lambda e: e.type == "deadletter.recorded" and e.org_id == org_id, timeout=60)
    assert dead[0].data["origin"] == f"rule:{rule['id']}:create_ticket"
    assert dead[0].data["external_id"] == str(risk.entity_id) and dead[0].data["reason"].startswith("authentication")
    assert "not-the-password" not in str(dead[0].data)

    [execution] = (await api.get(f"{installer}/v1/rules/{rule['id']}/executions", params={"status": "dead"},
                                 headers=h["viewer"])).json()["items"]
    assert execution["error_class"] == "authentication" and execution["attempts"] == 1

    # Fixed: the right password; sync-runner learns the new credential from the lifecycle topic.
    fixed = await api.put(f"{installer}/v1/installations/{target}/configuration", headers=h["admin"],
                          json={"config": servicenow_config(servicenow)})
    assert fixed.status_code == 200, fixed.text

    async def new_credential():
        rows = await sync_runner_db(platform, "SELECT config_version FROM sync_schedules WHERE installation_id = $1",
                                    uuid.UUID(target))
        return rows and rows[0]["config_version"] == fixed.json()["config_version"]
    assert await wait_until(new_credential, timeout=60)

    retry = f"{installer}/v1/rules/{rule['id']}/executions/{execution['id']}/retry"
    refused = await api.post(retry, headers=h["viewer"])
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role"
    accepted = await api.post(retry, headers=h["operator"])
    assert accepted.status_code == 202, accepted.text

    async def succeeded():
        rows = await executions(platform, rule["id"])
        return rows if rows[0]["status"] == "succeeded" else None
    done = await wait_until(succeeded, timeout=60)
    assert done and done[0]["attempts"] == 2
    again = await api.post(retry, headers=h["operator"])
    assert again.status_code == 409 and again.json()["code"] == "execution_not_dead"
    assert (await sim_state(servicenow))["created"] == 1
    audit = (await api.get(f"{installer}/v1/rules/{rule['id']}/audit", headers=h["viewer"])).json()["items"]
    assert audit[0]["event"] == "execution_retried" and audit[0]["details"]["execution_id"] == execution["id"]
