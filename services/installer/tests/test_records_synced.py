"""Records synced per entity type: the installer adds up each job's counts from sync-runner's
outcome events (completed, failed and cancelled alike) and shows them on the installation."""

import uuid

from aria_contracts.events import SyncCancelled, SyncCompleted, SyncFailed
from aria_installer.installations import outcomes
from aria_platform.db import create_pool
from aria_platform.outbox import traced


async def test_each_outcome_adds_its_counts_once(client, org, database):
    org_id, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    assert inst["records_synced"] == {}
    base = dict(installation_id=uuid.UUID(inst["id"]), org_id=org_id, integration_key="crowdstrike_falcon")
    events = [
        SyncCompleted(**base, job_id=uuid.uuid4(), processed_records=42, published_events=42, failed_records=0,
                      duration_ms=10, entity_counts={"risk": 30, "asset": 12}),
        SyncFailed(**base, job_id=uuid.uuid4(), error_class="transient", error_message="vendor down",
                   entity_counts={"risk": 5}),
        SyncCancelled(**base, job_id=uuid.uuid4(), processed_records=2, published_events=2, cancelled_by="request",
                      entity_counts={"asset": 2}),
        # A job that published nothing (an event from before entity_counts existed reads the same).
        SyncCompleted(**base, job_id=uuid.uuid4(), processed_records=0, published_events=0, failed_records=0,
                      duration_ms=5),
    ]
    pool = await create_pool(database)
    try:
        for event in events:
            envelope = traced(event, source="sync-runner", org_id=org_id, installation_id=event.installation_id)
            await outcomes.record_sync_event(pool=pool, envelope=envelope)
            await outcomes.record_sync_event(pool=pool, envelope=envelope)  # redelivered: counted once
    finally:
        await pool.close()
    got = (await client.get(f"/v1/installations/{inst['id']}", headers=h["viewer"])).json()
    assert got["records_synced"] == {"risk": 35, "asset": 14}
    listed = (await client.get("/v1/installations", headers=h["viewer"])).json()["items"]
    assert [i["records_synced"] for i in listed] == [{"risk": 35, "asset": 14}]
