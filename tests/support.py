"""Helpers the cross-service fault and leak tests share: extra service processes, a scratch
Kafka broker, and full scans of databases and topics.

The session fixture `platform` (tests/conftest.py) runs one process per service; these tests
also need to start a second process of a service (on another database or Kafka), to kill one,
and to read everything a run left behind.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from aria_platform.testing import REPO, Infra, free_port

BIN = Path(sys.executable).parent
KAFKA_HOME = REPO / "deploy/local/kafka"


def platform_env(infra: Infra, urls: dict[str, str]) -> dict[str, str]:
    """What every service process of the `platform` fixture shares (tests/conftest.py)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("ARIA_")},
        "ARIA_KAFKA_BOOTSTRAP": infra.kafka_bootstrap,
        "ARIA_JWT_SECRET": infra.jwt_secret,
        "ARIA_VAULT_GATEWAY_URL": urls["vault-gateway"],
        "ARIA_SYNC_RUNNER_URL": urls["sync-runner"],
        "ARIA_WEBHOOK_INGEST_URL": urls["webhook-ingest"],
        "ARIA_WEBHOOK_BASE_URL": urls["webhook-ingest"],
        "ARIA_OUTBOUND_ALLOWLIST": "127.0.0.1,localhost",
        "ARIA_OUTBOX_POLL_INTERVAL_S": "0.2",
        # The broker keeps every earlier test's (and run's) entities and sync requests: sync-runner's
        # entity memory starts from now, and requests older than a minute (other tests') are skipped
        # instead of each running a sync for an installation this platform never had.
        "ARIA_ACTION_ENTITIES_OFFSET_RESET": "latest",
        "ARIA_SYNC_REQUEST_MAX_AGE_S": "60",
        "ARIA_KAFKA_GROUP_PREFIX": os.environ.get("ARIA_KAFKA_GROUP_PREFIX", ""),
    }


def service_env(infra: Infra, urls: dict[str, str], *, database_url: str, port: int,
                **overrides: str) -> dict[str, str]:
    """The environment conftest's `platform` gives a service, for one more process of it."""
    return {
        **platform_env(infra, urls),
        # Its own consumer groups: a second process must not take partitions from the platform's.
        "ARIA_KAFKA_GROUP_PREFIX": f"{os.environ.get('ARIA_KAFKA_GROUP_PREFIX', '')}{uuid.uuid4().hex[:8]}-",
        "ARIA_DATABASE_URL": database_url,
        "ARIA_HTTP_PORT": str(port),
        **overrides,
    }


def start_service(service: str, env: dict[str, str], log: Path, *, timeout: float = 60.0) -> subprocess.Popen:
    """`aria-<service> serve` as a real process; returns once /readyz answers 200."""
    process = subprocess.Popen([str(BIN / f"aria-{service}"), "serve"], env=env,
                               stdout=log.open("ab"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{env['ARIA_HTTP_PORT']}/readyz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"aria-{service} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"aria-{service} not ready after {timeout}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Services:
    """Stop and restart the platform's service processes; `restore` puts back what was changed."""

    def __init__(self, platform):
        self.platform = platform
        self.original: dict[str, dict[str, str]] = {}
        self.current: dict[str, dict[str, str]] = {}

    def _environ(self, service: str) -> dict[str, str]:
        """The environment the running process was started with (as conftest built it)."""
        raw = Path(f"/proc/{self.platform.processes[service].pid}/environ").read_bytes()
        return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)

    def kill(self, service: str) -> None:
        """SIGKILL, as a crash or an OOM kill: no shutdown hook runs."""
        if service not in self.original:
            self.original[service] = self.current[service] = self._environ(service)
        stop(self.platform.processes[service], signal.SIGKILL)

    def start(self, service: str, **overrides: str) -> None:
        """Start the service again on its port and database, with its environment plus overrides."""
        env = {**self.original[service], **overrides}
        self.platform.processes[service] = start_service(service, env, self.platform.logs[service])
        self.current[service] = env

    def restore(self) -> None:
        for service, env in self.original.items():
            process = self.platform.processes[service]
            if process.poll() is None and self.current[service] == env:
                continue
            stop(process)
            self.start(service)


@contextmanager
def scratch_kafka(workdir: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A second, throwaway single-node Kafka (the repo's jars and config template) that a test may kill.

    The shared broker must never be stopped; this one exists so a test can take Kafka away
    from one process only.
    """
    port = free_port()
    controller = free_port()
    data, logs = workdir / "data", workdir / "logs"
    data.mkdir(parents=True)
    logs.mkdir()
    template = (KAFKA_HOME / "server.properties.template").read_text()
    props = workdir / "server.properties"
    props.write_text(template.replace("@KAFKA_DATA_DIR@", str(data)).replace("@KAFKA_PORT@", str(port))
                     .replace("@KAFKA_CONTROLLER_PORT@", str(controller)))
    classpath = f"{KAFKA_HOME}/libs/*"
    formatted = subprocess.run(["java", "-Xmx128m", f"-Dlog4j2.configurationFile={KAFKA_HOME}/tools-log4j2.properties",
                                "-cp", classpath, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                                "-t", "hDscratchKafkaCluster0", "-c", str(props)],
                               capture_output=True, text=True)
    if formatted.returncode != 0:
        raise RuntimeError(f"formatting the scratch Kafka's storage failed ({formatted.returncode}):\n"
                           f"{formatted.stdout[-2000:]}{formatted.stderr[-2000:]}")
    out = workdir / "kafka.out"
    process = subprocess.Popen(
        ["java", "-Xms128m", "-Xmx256m", "-XX:+UseSerialGC", f"-Dkafka.logs.dir={logs}",
         f"-Dlog4j2.configurationFile={KAFKA_HOME}/log4j2.properties", "-cp", classpath, "kafka.Kafka", str(props)],
        stdout=out.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"scratch Kafka exited:\n{out.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"scratch Kafka not listening:\n{out.read_text()[-3000:]}") from None
                time.sleep(0.3)
        yield f"127.0.0.1:{port}", process
    finally:
        stop(process, signal.SIGKILL)


# -- reading everything a run left behind ----------------------------------------------------


async def database_rows(url: str) -> list[tuple[str, str]]:
    """(table, row as text) for every row of every table of a database (all user schemas)."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            """SELECT table_schema, table_name FROM information_schema.tables
                WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')""")
        rows = []
        for t in tables:
            name = f'"{t["table_schema"]}"."{t["table_name"]}"'
            for r in await conn.fetch(f"SELECT t::text AS row FROM {name} t"):
                rows.append((name, r["row"]))
        return rows
    finally:
        await conn.close()


async def topic_history(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes, list[tuple[str, bytes]]]]:
    """(topic, value, headers) of every record from the beginning up to the end as of now."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest", max_partition_fetch_bytes=8 * 1024 * 1024,
                                fetch_max_bytes=32 * 1024 * 1024)
    consumer.subscribe(topics)  # without a group: every partition of every topic is assigned to us
    await consumer.start()
    try:
        while len({tp.topic for tp in consumer.assignment()}) < len(set(topics)):
            await asyncio.sleep(0.1)
        partitions = list(consumer.assignment())
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > await consumer.position(tp)}
        records = []
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=50_000)
            for tp, recs in batch.items():
                records.extend((tp.topic, r.value or b"", list(r.headers or ())) for r in recs)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


def base64_forms(secret: bytes) -> list[bytes]:
    """The secret's base64 as it appears inside any longer base64 text, for all three alignments."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret)
        first = -(-8 * shift // 6)  # first character made only of the secret's bits
        last = 8 * (shift + len(secret)) // 6
        forms.append(encoded[first:last])
        forms.append(base64.urlsafe_b64encode(b"\0" * shift + secret)[first:last])
    return forms


async def wait_until(check, *, timeout: float = 30.0, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)


async def webhook_installation(api: httpx.AsyncClient, installer: str, admin: dict[str, str], secret: str) -> str:
    """An enabled generic-webhook installation signed with `secret`; its id."""
    inst = (await api.post(f"{installer}/v1/installations", json={"integration_key": "generic_webhook"},
                           headers=admin)).json()["id"]
    configured = await api.put(f"{installer}/v1/installations/{inst}/configuration", headers=admin,
                               json={"config": {"signing_secret": secret}})
    assert configured.status_code == 200, configured.text
    assert (await api.post(f"{installer}/v1/installations/{inst}/enable", headers=admin)).status_code == 200
    return inst
