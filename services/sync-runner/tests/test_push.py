"""Push: risks on Kafka → a Jira issue per risk for installations that opted in, exactly once, as Ticket events."""

import asyncio
import hashlib
import uuid
from datetime import datetime, timezone

import asyncpg
import httpx
import pytest

from aria_contracts import Envelope
from aria_contracts.events import InstallationEnabled, Provenance, Risk
from aria_contracts.ids import entity_id
from aria_platform.testing import KafkaProbe, migrated_database

JIRA_EMAIL, JIRA_TOKEN = "push@example.com", "push-token-canary-77c1"


@pytest.fixture(scope="module")
async def database(infra, kafka_topics, support):
    return await migrated_database(infra, "sync_runner_push", support.MIGRATIONS)


@pytest.fixture(scope="module")
def jira(support):
    from aria_connector_testkit.simulators import create_app as create_simulator

    app = create_simulator("jira_cloud", seed=2, issues=3, email=JIRA_EMAIL, api_token=JIRA_TOKEN, project="SEC",
                           rate_limit=100000, rate_window_seconds=1)
    with support.serve_in_thread(app, name="jira-simulator") as url:
        yield url


@pytest.fixture(scope="module")
async def runner(infra, database, vault_gateway, support):
    async with support.running_sync_runner(infra, support.sync_runner_settings(infra, database, vault_gateway)) as c:
        yield c


async def enable_jira(support, infra, producer, vault_gateway, jira, org, **settings):
    inst = uuid.uuid4()
    ref = await support.store_credential(vault_gateway, infra, installation_id=inst, org_id=org,
                                         secrets={"api_token": JIRA_TOKEN})
    event = InstallationEnabled(installation_id=inst, org_id=org, integration_key="jira_cloud", revision=1,
                                actor="user-test", config_version=1, credential_ref=ref, sync_frequency="manual",
                                settings={"base_url": jira, "email": JIRA_EMAIL, "project_key": "SEC", **settings})
    await support.publish(producer, Envelope.wrap(event, source="installer", org_id=org, installation_id=inst))
    return inst


def risk(org, external_id, severity, *, status="open", source="crowdstrike_falcon") -> Envelope:
    payload = Risk(entity_id=entity_id(org_id=org, integration_key=source, entity_type="risk", external_id=external_id),
                   org_id=org, title=f"Risk {external_id}", severity=severity, status=status,
                   provenance=Provenance(installation_id=uuid.uuid4(), integration_key=source, connector_version="1.0.0",
                                         stream="alerts", external_id=external_id,
                                         raw_sha256=hashlib.sha256(external_id.encode()).hexdigest()))
    return Envelope.wrap(payload, source="sync-runner", org_id=org, installation_id=payload.provenance.installation_id)


async def created(jira) -> int:
    async with httpx.AsyncClient(base_url=jira) as http:
        return (await http.get("/_sim/state")).json()["created"]


async def deliveries(database, inst) -> list[dict]:
    conn = await asyncpg.connect(database)
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM push_deliveries WHERE installation_id = $1", inst)]
    finally:
        await conn.close()


async def wait_rows(database, inst, count, timeout=30.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while len(rows := await deliveries(database, inst)) < count or any(r["status"] == "pending" for r in rows):
        assert asyncio.get_running_loop().time() < deadline, rows
        await asyncio.sleep(0.2)
    return rows


async def test_risks_open_one_ticket_each_exactly_once(runner, infra, database, vault_gateway, jira, producer,
                                                       support):
    org = uuid.uuid4()
    inst = await enable_jira(support, infra, producer, vault_gateway, jira, org, push_min_severity="high")
    off = await enable_jira(support, infra, producer, vault_gateway, jira, org)  # no push_min_severity: push off
    await asyncio.sleep(1.0)  # the lifecycle events are applied
    before = await created(jira)
    critical, low = risk(org, "a-1", "critical"), risk(org, "a-2", "low")
    resolved = risk(org, "a-3", "critical", status="resolved")
    from_jira = risk(org, "SEC-1", "critical", source="jira_cloud")  # a ticket synced back: never pushed
    async with KafkaProbe(infra.kafka_bootstrap, "aria.entity.ticket") as probe:
        for envelope in (critical, low, resolved, from_jira, critical):  # the critical one delivered twice
            await support.publish(producer, envelope)
        await probe.wait_for(lambda e: e.org_id == org)
        [row] = await wait_rows(database, inst, 1)
        await probe.drain(1.0)
    assert await created(jira) == before + 1
    assert row["status"] == "delivered" and str(row["entity_id"]) == critical.data["entity_id"] and row["vendor_id"]
    assert row["action"] == "create_ticket" and row["vendor_url"].endswith(f"/browse/{row['vendor_id']}")
    assert not await deliveries(database, off)
    [ticket] = [e for _, e, _ in probe.seen if e.org_id == org]
    assert ticket.data["vendor_ticket_id"] == row["vendor_id"] and ticket.data["status"] == "open"
    assert ticket.data["linked_entity_id"] == str(critical.data["entity_id"])
    assert ticket.data["entity_id"] == str(entity_id(org_id=org, integration_key="jira_cloud", entity_type="ticket",
                                                       external_id=row["vendor_id"]))
    assert ticket.installation_id == inst


async def test_a_lost_response_does_not_open_a_second_ticket(runner, infra, database, vault_gateway, jira, producer,
                                                             support):
    org = uuid.uuid4()
    inst = await enable_jira(support, infra, producer, vault_gateway, jira, org, push_min_severity="medium")
    await asyncio.sleep(1.0)
    before = await created(jira)
    async with httpx.AsyncClient(base_url=jira) as http:  # the issue is created, the answer lost
        await http.post("/_sim/faults", json={"status": 503, "count": 1, "after_write": True})
    await support.publish(producer, risk(org, "b-1", "high"))
    [row] = await wait_rows(database, inst, 1)
    assert row["status"] == "delivered" and await created(jira) == before + 1


async def test_an_unreachable_vendor_is_dead_lettered(runner, infra, database, vault_gateway, producer, support):
    org = uuid.uuid4()
    dead = f"http://127.0.0.1:{support.free_port()}"
    inst = await enable_jira(support, infra, producer, vault_gateway, dead, org, push_min_severity="info")
    await asyncio.sleep(1.0)
    async with KafkaProbe(infra.kafka_bootstrap, "aria.deadletter") as probe:
        await support.publish(producer, risk(org, "c-1", "info"))
        letters = await probe.wait_for(lambda e: e.installation_id == inst, timeout=90)
    [row] = await deliveries(database, inst)
    assert row["status"] == "failed" and row["error_class"] == "transient"
    assert letters[0].data["origin"] == "push:create_ticket" and JIRA_TOKEN not in letters[0].model_dump_json()
    assert datetime.fromisoformat(letters[0].data["failed_at"]) <= datetime.now(timezone.utc)
