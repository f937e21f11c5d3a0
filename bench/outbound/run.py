"""Outbound webhook deliveries per second and CPU per delivery, against a local receiver.

    uv run --frozen python bench/outbound/run.py [--events 5000] [--endpoints 1]

Starts, on the real infrastructure (.local/infra.env or ARIA_* endpoints), a vault-gateway and a
webhook-ingest process (`aria-<service> serve`, fresh databases, real Kafka, real OpenBao) and a
receiver process (a bare ASGI app under uvicorn that answers 204) on 127.0.0.2, which the run
allowlists with ARIA_OUTBOUND_WEBHOOK_ALLOW_HOSTS (the guard's test-only setting; every send still
goes through it). Creates --endpoints endpoints of one organization subscribed to risk.observed
through the public API, publishes --events risk events to Kafka at once, and measures until the
receiver has answered every delivery (events × endpoints): end to end, so each delivery includes
the fan-out (Kafka consume, one INSERT per event), the claim, Standard Webhooks signing, the
guarded HTTP POST and recording the outcome. Prints deliveries/s and the CPU time per delivery of
webhook-ingest, its Postgres backends, and the receiver.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from aria_contracts import Envelope  # noqa: E402
from aria_contracts.events import Provenance, Risk  # noqa: E402
from aria_contracts.ids import entity_id  # noqa: E402
from aria_platform import kafka  # noqa: E402
from aria_platform.auth import mint_token  # noqa: E402
from aria_platform.testing import create_database, discover_infra, drop_created_databases, free_port  # noqa: E402
from aria_platform.topics import ensure_topics  # noqa: E402
from bench.wrk import cpu_seconds  # noqa: E402
from tests.support import BIN, start_service, stop  # noqa: E402

RECEIVER_HOST = "127.0.0.2"
RECEIVER = '''
count = 0
async def app(scope, receive, send):
    global count
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    if scope["method"] == "POST":
        count += 1
    body = str(count).encode() if scope["path"] == "/count" else b""
    await send({"type": "http.response.start", "status": 200 if body else 204, "headers": []})
    await send({"type": "http.response.body", "body": body})
'''


async def backend_pids(database_url: str) -> list[int]:
    conn = await asyncpg.connect(database_url)
    try:
        return [r["pid"] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    finally:
        await conn.close()


def risk(org_id: uuid.UUID, n: int) -> Envelope:
    external = f"bench-{n}-{uuid.uuid4().hex[:6]}"
    inst = uuid.UUID(int=1)
    return Envelope.wrap(Risk(
        entity_id=entity_id(org_id=org_id, integration_key="crowdstrike", entity_type="risk", external_id=external),
        org_id=org_id, title=f"risk {n}", severity="high", status="open", attributes={"n": n, "pad": "x" * 200},
        provenance=Provenance(installation_id=inst, integration_key="crowdstrike", connector_version="1.0.0",
                              stream="risks", external_id=external,
                              raw_sha256=hashlib.sha256(external.encode()).hexdigest())),
        source="sync-runner", org_id=org_id, installation_id=inst)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, default=1)
    args = parser.parse_args()
    infra = discover_infra()
    await ensure_topics(infra.kafka_bootstrap)
    work = Path(tempfile.mkdtemp(prefix="bench-outbound-"))
    base = {**{k: v for k, v in os.environ.items() if not k.startswith("ARIA_")},
            "ARIA_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "ARIA_JWT_SECRET": infra.jwt_secret,
            "ARIA_LOG_LEVEL": "WARNING", "ARIA_KAFKA_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-"}
    vg_port, wi_port, rx_port = free_port(), free_port(), free_port()
    vg_env = {**base, "ARIA_HTTP_PORT": str(vg_port), "ARIA_VAULT_ADDR": infra.vault_addr,
              "ARIA_VAULT_ROLE_ID": infra.vault_role_id, "ARIA_VAULT_SECRET_ID": infra.vault_secret_id,
              "ARIA_DATABASE_URL": await create_database(infra, "bench-vault-gateway")}
    wi_env = {**base, "ARIA_HTTP_PORT": str(wi_port), "ARIA_VAULT_GATEWAY_URL": f"http://127.0.0.1:{vg_port}",
              "ARIA_OUTBOUND_WEBHOOK_ALLOW_HOSTS": RECEIVER_HOST,
              "ARIA_DATABASE_URL": await create_database(infra, "bench-webhook-ingest")}
    for service, env in (("vault-gateway", vg_env), ("webhook-ingest", wi_env)):
        subprocess.run([str(BIN / f"aria-{service}"), "migrate"], env=env, check=True, capture_output=True)
    (work / "receiver.py").write_text(RECEIVER)
    processes: list[subprocess.Popen] = []
    try:
        receiver = subprocess.Popen(
            [str(BIN / "uvicorn"), "receiver:app", "--host", RECEIVER_HOST, "--port", str(rx_port), "--no-access-log",
             "--log-level", "warning"], cwd=work, stdout=(work / "rx.log").open("ab"), stderr=subprocess.STDOUT)
        processes.append(receiver)
        processes.append(start_service("vault-gateway", vg_env, work / "vault-gateway.log"))
        service = start_service("webhook-ingest", wi_env, work / "webhook-ingest.log")
        processes.append(service)
        org = uuid.uuid4()
        admin = {"authorization": "Bearer " + mint_token(infra.jwt_secret, subject="bench", org_id=org, role="admin")}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{wi_port}", timeout=30) as api:
            for n in range(args.endpoints):
                created = await api.post("/v1/outbound-endpoints", headers=admin, json={
                    "url": f"http://{RECEIVER_HOST}:{rx_port}/hook/{n}", "event_types": ["risk.observed"]})
                created.raise_for_status()
        producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all", linger_ms=5)
        await producer.start()
        rx = httpx.AsyncClient(base_url=f"http://{RECEIVER_HOST}:{rx_port}")

        async def received() -> int:
            return int((await rx.get("/count")).text)

        async def publish(events: list[Envelope]) -> None:
            await asyncio.gather(*[await producer.send(kafka.topic_for(e), kafka.encode(e), key=e.key.encode())
                                   for e in events])

        # Warm-up (the fan-out group starts at the latest offset): until deliveries come through.
        deadline = time.monotonic() + 120
        while True:
            await publish([risk(org, -1)])
            await asyncio.sleep(1.0)
            got = await received()
            if got >= args.endpoints:
                break
            if time.monotonic() > deadline:
                sys.exit(f"no delivery came through; see {work}")
        await asyncio.sleep(2.0)
        before = await received()
        pg = await backend_pids(wi_env["ARIA_DATABASE_URL"])
        events = [risk(org, n) for n in range(args.events)]
        wanted = before + args.events * args.endpoints
        cpu0 = (cpu_seconds(service.pid), sum(cpu_seconds(p) for p in pg), cpu_seconds(receiver.pid))
        load_before = os.getloadavg()
        started = time.perf_counter()
        await publish(events)
        while True:
            got = await received()
            if got >= wanted:
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        cpu1 = (cpu_seconds(service.pid), sum(cpu_seconds(p) for p in pg), cpu_seconds(receiver.pid))
        load_after = os.getloadavg()
        await producer.stop()
        await rx.aclose()
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(work, ignore_errors=True)
        await drop_created_databases()
    deliveries = args.events * args.endpoints
    per = [(b - a) * 1000 / deliveries for a, b in zip(cpu0, cpu1)]
    print(f"outbound webhook benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"{args.events} events x {args.endpoints} endpoint(s), load average before {load_before[0]:.2f}, "
          f"after {load_after[0]:.2f})")
    print(f"deliveries:            {deliveries}")
    print(f"elapsed:               {elapsed:.2f} s (first publish to last delivery answered)")
    print(f"deliveries/s:          {deliveries / elapsed:,.0f}")
    print(f"CPU ms per delivery:   webhook-ingest {per[0]:.3f}, its Postgres backends {per[1]:.3f}, "
          f"receiver {per[2]:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
