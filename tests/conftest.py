"""The whole platform as real processes: five services and the CrowdStrike simulator.

Each service runs as its own `aria-<service> serve` process with a fresh database, against the
run's Kafka and OpenBao, exactly as deploy/local/up.sh starts them; logs go to files so tests
can read them.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from aria_platform.testing import Infra, bearer, create_database, free_port, user_token
from tests.support import platform_env

BIN = Path(sys.executable).parent
SERVICES = ("catalog", "installer", "vault-gateway", "sync-runner", "webhook-ingest")
SIMULATOR_CLIENT_ID = "e2e-client"
SIMULATOR_CLIENT_SECRET = "e2e-CrowdStrike-secret-5d2f"


@dataclass
class Platform:
    urls: dict[str, str]
    databases: dict[str, str]
    logs: dict[str, Path]
    simulator_url: str
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    simulator_client_id: str = SIMULATOR_CLIENT_ID
    simulator_client_secret: str = SIMULATOR_CLIENT_SECRET


def _wait_ready(url: str, process: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def platform(infra: Infra, kafka_topics, tmp_path_factory) -> Platform:
    logdir = tmp_path_factory.mktemp("platform-logs")
    ports = {s: free_port() for s in SERVICES}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    databases = {s: asyncio.run(create_database(infra, s)) for s in SERVICES}
    common = platform_env(infra, urls)
    platform = Platform(urls=urls, databases=databases, logs={}, simulator_url="")

    sim_port = free_port()
    sim_log = logdir / "simulator.log"
    platform.logs["simulator"] = sim_log
    platform.processes["simulator"] = subprocess.Popen(
        [sys.executable, "-m", "aria_connector_testkit.simulators", "serve", "crowdstrike_falcon", "--port", str(sim_port),
         "--records", "120", "--client-id", SIMULATOR_CLIENT_ID, "--client-secret", SIMULATOR_CLIENT_SECRET],
        stdout=sim_log.open("wb"), stderr=subprocess.STDOUT, env=common)
    platform.simulator_url = f"http://127.0.0.1:{sim_port}"

    for service in SERVICES:
        env = {**common, "ARIA_DATABASE_URL": databases[service], "ARIA_HTTP_PORT": str(ports[service])}
        if service == "vault-gateway":
            env.update(ARIA_VAULT_ADDR=infra.vault_addr, ARIA_VAULT_ROLE_ID=infra.vault_role_id,
                       ARIA_VAULT_SECRET_ID=infra.vault_secret_id)
        subprocess.run([str(BIN / f"aria-{service}"), "migrate"], env=env, check=True, capture_output=True)
        log = logdir / f"{service}.log"
        platform.logs[service] = log
        platform.processes[service] = subprocess.Popen([str(BIN / f"aria-{service}"), "serve"], env=env,
                                                       stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        for service in SERVICES:
            _wait_ready(f"{urls[service]}/readyz", platform.processes[service], platform.logs[service])
        _wait_ready(f"{platform.simulator_url}/_sim/state", platform.processes["simulator"], sim_log)
        yield platform
    finally:
        for process in platform.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in platform.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def org(infra):
    """A fresh organization per test module, with a bearer header per role."""
    org_id = uuid.uuid4()
    return org_id, {role: bearer(user_token(infra, org_id=org_id, role=role)) for role in ("viewer", "operator", "admin")}


@pytest.fixture(scope="module")
async def api(platform):
    # Drop idle connections before uvicorn's 5 s keep-alive timeout can close one under a request.
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(keepalive_expiry=2.0)) as client:
        yield client
