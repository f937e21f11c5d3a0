"""sync-runner test fixtures: real Kafka/Postgres/OpenBao, vault-gateway and the CrowdStrike simulator
served over real HTTP (uvicorn in background threads), sync-runner in-process with its own consumer group."""

from __future__ import annotations

import asyncio
import os
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from aria_contracts import Envelope
from aria_contracts.events import SyncRequested
from aria_contracts.topics import SYNC_REQUESTS
from aria_platform import kafka
from aria_platform.app import create_app
# free_port and serve_in_thread are re-exported for the test modules (support.free_port)
from aria_platform.testing import bearer, free_port, migrated_database, running_app, serve_in_thread, service_token

MIGRATIONS = Path(__file__).parents[1] / "src/aria_sync_runner/migrations"
KEY = "crowdstrike_falcon"
CLIENT_ID = "sync-runner-test-client"
CLIENT_SECRET = "s3cr3t-SYNC-RUNNER-canary-41d9"


@pytest.fixture(scope="module")
def simulator():
    """The CrowdStrike Falcon simulator (the vendor API is the only simulated thing)."""
    from aria_connector_testkit.simulators import create_app as create_simulator

    app = create_simulator(KEY, seed=11, alerts=12, hosts=9, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                           rate_limit=100000, rate_window_seconds=1)
    with serve_in_thread(app, name="falcon-simulator") as url:
        yield url


@pytest.fixture(scope="module")
async def vault_gateway(infra, kafka_topics):
    """The real vault-gateway (test-only import), reachable over HTTP like in production."""
    from aria_vault_gateway.main import define as define_vault_gateway
    from aria_vault_gateway.settings import VaultGatewaySettings

    database = await migrated_database(infra, "vault_gateway_for_sync",
                                       Path(__import__("aria_vault_gateway").__file__).parent / "migrations")
    settings = VaultGatewaySettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap,
                                    vault_addr=infra.vault_addr, vault_role_id=infra.vault_role_id,
                                    vault_secret_id=infra.vault_secret_id, jwt_secret=infra.jwt_secret,
                                    outbox_poll_interval_s=0.2)
    with serve_in_thread(create_app(define_vault_gateway(settings)), name="vault-gateway") as url:
        yield url


async def pin_group_to_end(bootstrap: str, group_id: str, topic=SYNC_REQUESTS) -> None:
    """Commit the group's offsets at the end of the topic, so it sees only requests made from now on."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic.name, p) for p in range(topic.partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


async def pin_groups(infra, settings) -> None:
    """sync-runner's consumer groups see only what is published from now on (the topics are shared)."""
    from aria_contracts.topics import INSTALLATION_LIFECYCLE

    for group, topic in ((settings.sync_group_id, SYNC_REQUESTS), (settings.lifecycle_group_id, INSTALLATION_LIFECYCLE)):
        await pin_group_to_end(infra.kafka_bootstrap, settings.group(group), topic)


def sync_runner_settings(infra, database, vault_gateway_url, **overrides):
    from aria_sync_runner.settings import SyncRunnerSettings

    values = dict(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                  vault_gateway_url=vault_gateway_url, outbound_allowlist=["127.0.0.1", "localhost"],
                  sync_group_id=f"sync-runner.jobs.test-{uuid.uuid4().hex[:8]}",
                  lifecycle_group_id=f"sync-runner.schedules.test-{uuid.uuid4().hex[:8]}",
                  outbox_poll_interval_s=0.2,
                  kafka_group_prefix=os.environ.get("ARIA_KAFKA_GROUP_PREFIX", ""),
                  sync_max_retries=0, sync_retry_backoff_s=0.1, worker_poll_interval_s=0.2,
                  heartbeat_interval_s=0.5, job_lease_s=3.0)
    values.update(overrides)
    return SyncRunnerSettings(**values)


@asynccontextmanager
async def running_sync_runner(infra, settings):
    from aria_sync_runner.main import define

    await pin_groups(infra, settings)
    async with running_app(create_app(define(settings))) as client:
        yield client


@pytest.fixture(scope="module")
async def producer(infra):
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await p.start()
    yield p
    await p.stop()


def sync_request(*, installation_id, org_id, credential_ref, settings, sync_type="incremental",
                 request_id=None, traceparent=None) -> Envelope:
    payload = SyncRequested(installation_id=installation_id, org_id=org_id, integration_key=KEY,
                            request_id=request_id or uuid.uuid4(), sync_type=sync_type, requested_by="user-test",
                            config_version=1, settings=settings, credential_ref=credential_ref)
    return Envelope.wrap(payload, source="installer", org_id=org_id, installation_id=installation_id,
                         traceparent=traceparent)


async def publish(producer: AIOKafkaProducer, envelope: Envelope) -> None:
    headers = [(k, v.encode()) for k, v in kafka.headers_for(envelope).items()]
    await producer.send_and_wait(kafka.topic_for(envelope), kafka.encode(envelope), key=envelope.key.encode(),
                                 headers=headers)


async def store_credential(vault_gateway_url: str, infra, *, installation_id, org_id, secrets: dict) -> str:
    async with httpx.AsyncClient(base_url=vault_gateway_url) as http:
        response = await http.put(f"/internal/v1/installations/{installation_id}/credentials/connector",
                                  json={"org_id": str(org_id), "secrets": secrets},
                                  headers=bearer(service_token(infra, "installer")))
    assert response.status_code == 200, response.text
    return response.json()["credential_ref"]


async def new_installation(infra, vault_gateway_url: str, simulator_url: str) -> dict:
    """A fresh installation of a simulated Falcon tenant, its secret stored in vault-gateway."""
    inst, org = uuid.uuid4(), uuid.uuid4()
    ref = await store_credential(vault_gateway_url, infra, installation_id=inst, org_id=org,
                                 secrets={"client_secret": CLIENT_SECRET})
    return dict(installation_id=inst, org_id=org, credential_ref=ref,
                settings={"base_url": simulator_url, "client_id": CLIENT_ID})


def as_installer(infra) -> dict[str, str]:
    return bearer(service_token(infra, "installer"))


async def wait_for_job(client, infra, installation_id, *, count=1, timeout=60.0) -> list[dict]:
    """Jobs of an installation once `count` of them are finished (completed/failed)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"/internal/v1/installations/{installation_id}/sync-jobs",
                                    headers=as_installer(infra))
        items = response.json()["items"]
        done = [j for j in items if j["status"] in ("completed", "failed")]
        if len(done) >= count or asyncio.get_running_loop().time() > deadline:
            return items
        await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def support():
    """These helpers, for test modules (importlib import mode cannot import conftest by name)."""
    import sys

    return sys.modules[__name__]


async def own_events(probe, database, installation_id, predicate, *, count=1, timeout=60.0) -> list[Envelope]:
    """Events matching `predicate` about jobs in *this* runner's database. Every sync-runner on the shared
    broker (other test runs included) sees every sync request, so a foreign runner may answer for the same
    installation (it fails: it cannot lease our credential); only our jobs count."""
    import asyncpg

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        conn = await asyncpg.connect(database)
        try:
            ours = {str(r["id"]) for r in await conn.fetch(
                "SELECT id FROM integration_sync_jobs WHERE installation_id = $1", installation_id)}
        finally:
            await conn.close()
        matched = [e for _, e, _ in probe.seen if e.installation_id == installation_id
                   and e.data.get("job_id") in ours and predicate(e)]
        if len(matched) >= count or asyncio.get_running_loop().time() > deadline:
            return matched
        await probe.drain(0.3)
