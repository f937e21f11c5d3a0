"""Fixtures for webhook-ingest tests: real Postgres, Kafka and OpenBao, and a real vault-gateway
served over HTTP (webhook-ingest leases signing secrets from it with its service identity)."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer

from aria_contracts import Envelope
from aria_contracts.events import InstallationDisabled, InstallationEnabled
from aria_platform import kafka
from aria_platform.app import create_app
from aria_platform.testing import bearer, migrated_database, running_app, service_token
from aria_webhook_ingest.main import define
from aria_webhook_ingest.settings import WebhookIngestSettings

MIGRATIONS = Path(__file__).parents[1] / "src/aria_webhook_ingest/migrations"
VAULT_GATEWAY_MIGRATIONS = Path(__file__).parents[2] / "vault-gateway/src/aria_vault_gateway/migrations"
RATE_PER_S, BURST = 1.0, 10


@pytest.fixture(scope="module")
async def database(infra, kafka_topics):
    return await migrated_database(infra, "webhook_ingest", MIGRATIONS)


@pytest.fixture(scope="module")
async def vault_gateway(infra, kafka_topics):
    """vault-gateway over real HTTP on a free port. Its Kafka subscribers are left out so this test
    does not join (and rebalance) vault-gateway's real consumer group."""
    from aria_vault_gateway.main import define as define_vault_gateway  # tests only, never in src
    from aria_vault_gateway.settings import VaultGatewaySettings

    db = await migrated_database(infra, "vault_gateway", VAULT_GATEWAY_MIGRATIONS)
    settings = VaultGatewaySettings(database_url=db, kafka_bootstrap=infra.kafka_bootstrap, vault_addr=infra.vault_addr,
                                    vault_role_id=infra.vault_role_id, vault_secret_id=infra.vault_secret_id,
                                    jwt_secret=infra.jwt_secret, outbox_poll_interval_s=0.2)
    app = create_app(dataclasses.replace(define_vault_gateway(settings), kafka_routers=()))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 30
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise RuntimeError("vault-gateway did not start")
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def settings_for(infra, database, vault_gateway, **overrides) -> WebhookIngestSettings:
    values = dict(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                  vault_gateway_url=vault_gateway, max_body_bytes=64 * 1024, rate_limit_per_s=RATE_PER_S,
                  rate_limit_burst=BURST, secret_cache_s=30.0, publish_timeout_s=10.0,
                  # Own consumer group: a parallel test run or a running service keeps its partitions.
                  endpoints_group_id=f"webhook-ingest.endpoints.test-{uuid.uuid4().hex[:8]}",
                  outbound_group_id=f"webhook-ingest.outbound.test-{uuid.uuid4().hex[:8]}")
    values.update(overrides)
    return WebhookIngestSettings(**values)


@pytest.fixture(scope="module")
async def client(infra, database, vault_gateway):
    async with running_app(create_app(define(settings_for(infra, database, vault_gateway)))) as c:
        yield c


@pytest.fixture(scope="module")
async def producer(infra, kafka_topics):
    p = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", enable_idempotence=True)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()


async def publish(producer: AIOKafkaProducer, envelope: Envelope) -> None:
    await producer.send_and_wait(kafka.topic_for(envelope), kafka.encode(envelope), key=envelope.key.encode(),
                                 headers=[(k, v.encode()) for k, v in kafka.headers_for(envelope).items()])


async def wait_for_endpoint(database: str, installation_id: uuid.UUID, *, live: bool, revision: int,
                            timeout: float = 60.0) -> None:
    """Until the lifecycle consumer has applied `revision` for this installation."""
    conn = await asyncpg.connect(database)
    try:
        deadline = time.monotonic() + timeout
        while True:
            row = await conn.fetchrow("SELECT live, revision FROM webhook_endpoints WHERE installation_id = $1",
                                      installation_id)
            if row is not None and row["revision"] >= revision:
                assert row["live"] is live, dict(row)
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"endpoint {installation_id} never reached revision {revision}: {row}")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@dataclasses.dataclass
class Installation:
    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str
    credential_ref: str | None
    secret: str
    revision: int = 1


class Installations:
    """Creates installations the way installer would: secret via vault-gateway, then lifecycle events."""

    def __init__(self, infra, database, vault_gateway, producer):
        self.infra, self.database, self.vault_gateway, self.producer = infra, database, vault_gateway, producer

    async def publish(self, envelope: Envelope) -> None:
        await publish(self.producer, envelope)

    async def store_secret(self, inst: Installation, secret: str) -> str:
        async with httpx.AsyncClient(base_url=self.vault_gateway) as vg:
            stored = await vg.put(f"/internal/v1/installations/{inst.installation_id}/credentials/connector",
                                  json={"org_id": str(inst.org_id), "secrets": {"signing_secret": secret}},
                                  headers=bearer(service_token(self.infra, "installer")))
        assert stored.status_code == 200, stored.text
        inst.secret = secret
        return stored.json()["credential_ref"]

    async def enabled(self, integration_key: str = "generic_webhook", *, store_secret: bool = True) -> Installation:
        inst = Installation(uuid.uuid4(), uuid.uuid4(), integration_key, None,
                            secret=f"whsec-{uuid.uuid4().hex}{uuid.uuid4().hex}")
        if store_secret:
            inst.credential_ref = await self.store_secret(inst, inst.secret)
        inst.revision = 3
        await publish(self.producer, Envelope.wrap(
            InstallationEnabled(installation_id=inst.installation_id, org_id=inst.org_id,
                                integration_key=integration_key, revision=inst.revision, actor="test",
                                config_version=1, settings={"source_name": "test"},
                                credential_ref=inst.credential_ref, sync_frequency="realtime"),
            source="installer", org_id=inst.org_id, installation_id=inst.installation_id))
        await wait_for_endpoint(self.database, inst.installation_id, live=True, revision=inst.revision)
        return inst

    async def disable(self, inst: Installation) -> None:
        inst.revision += 1
        await publish(self.producer, Envelope.wrap(
            InstallationDisabled(installation_id=inst.installation_id, org_id=inst.org_id,
                                 integration_key=inst.integration_key, revision=inst.revision, actor="test"),
            source="installer", org_id=inst.org_id, installation_id=inst.installation_id))
        await wait_for_endpoint(self.database, inst.installation_id, live=False, revision=inst.revision)


@pytest.fixture(scope="module")
async def installations(infra, database, vault_gateway, producer, client):
    # `client` first: the app's lifecycle consumer must be running before installations are awaited.
    return Installations(infra, database, vault_gateway, producer)


@pytest.fixture(scope="module")
def make_settings(infra, database, vault_gateway):
    """Settings of an app of this module's stack, with overrides (test modules cannot import conftest)."""
    return lambda **overrides: settings_for(infra, database, vault_gateway, **overrides)


@pytest.fixture(scope="module")
def send(producer):
    """Publish an envelope to its topic as its producer would."""
    return lambda envelope: publish(producer, envelope)
