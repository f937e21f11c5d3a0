"""Webhook ingest throughput and latency, next to the framework's ceiling, in one run.

    uv run --frozen python bench/webhook/run.py [--seconds 15] [--connections 16,64] [--threads 1] [--workers 2]

Starts, on the real infrastructure (.local/infra.env or ARIA_* endpoints), a vault-gateway and a
webhook-ingest process (`aria-<service> serve`, fresh databases, real Kafka with acks=all, real
OpenBao), registers one generic-webhook installation whose signing secret is in vault-gateway,
pre-signs distinct deliveries (one risk each), and drives them with wrk (closed loop, keep-alive)
for --seconds, once per --connections value (16 and 64 concurrent senders by default: at 16 a
delivery's wait for its batch's commit bounds the rate, at 64 the machine's CPU does). Then the same wrk load against a bare FastAPI endpoint that only answers 204,
served by uvicorn the same way (both with --workers processes, ARIA_HTTP_WORKERS). Prints
deliveries/s, p50/p90/p99 latency of both, the ratio, the group commit's mean batch size (one worker's, since it started), and
where the machine's CPU went per request: the bare app's, and per accepted delivery webhook-ingest's,
its Postgres backends' and the Kafka broker's (when the local stack's pid file names it) — on a
2-core machine the ratio to the ceiling is bounded by those sums.

Every measured delivery is a new delivery id: verified (HMAC-SHA256, timestamp window), deduped
in Postgres, its risk and its webhook.received event published with acks=all, then answered 202.
The per-installation rate limit is raised for the run (it would otherwise answer 429 cheaply).
Needs `wrk` (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from aria_connector_testkit.vendors.generic_webhook.simulator import sign  # noqa: E402
from aria_platform.auth import mint_token  # noqa: E402
from aria_platform.testing import create_database, discover_infra, drop_created_databases, free_port  # noqa: E402
from bench.wrk import cpu_seconds, request_file, run as wrk  # noqa: E402
from tests.support import BIN, start_service, stop  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET = f"bench-signing-secret-{uuid.uuid4().hex}"


def presign(path: Path, url_path: str, count: int) -> None:
    ts = int(time.time())  # 300 s tolerance: the run is far shorter

    def deliveries():
        for n in range(count):
            delivery_id = f"bench-{uuid.uuid4().hex}"
            body = json.dumps({"events": [{"id": delivery_id, "type": "risk", "title": f"finding {n}",
                                           "severity": "high", "status": "open"}]}, separators=(",", ":"))
            yield "POST", url_path, sign(SECRET, body.encode(), timestamp=ts, delivery_id=delivery_id), body
    request_file(path, deliveries())


def _kafka_broker_pid() -> int | None:
    """The local stack's broker (deploy/local/infra.sh), if this run uses it."""
    pid_file = Path(os.environ.get("ARIA_LOCAL_DIR", REPO / ".local")) / "kafka" / "kafka.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


def _cpu_of(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def _batch_sizes(metrics: str) -> tuple[float, float]:
    """(deliveries, batches) of aria_webhook_commit_batch_size in a Prometheus text page."""
    values = dict(re.findall(r"^aria_webhook_commit_batch_size_(sum|count) ([0-9.e+]+)$", metrics, re.M))
    return float(values.get("sum", 0)), float(values.get("count", 0))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=lambda v: [int(c) for c in v.split(",")], default=[16, 64],
                        help="comma-separated: one run per concurrency (vendors' senders), bare and service alike")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes, service and bare alike")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    infra = discover_infra()
    work = Path(tempfile.mkdtemp(prefix="bench-webhook-"))
    jwt = infra.jwt_secret
    ports = {"vault-gateway": free_port(), "webhook-ingest": free_port(), "bare": free_port(), "raw": free_port()}
    base = {**{k: v for k, v in os.environ.items() if not k.startswith("ARIA_")},
            "ARIA_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "ARIA_JWT_SECRET": jwt, "ARIA_LOG_LEVEL": "WARNING",
            "ARIA_KAFKA_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-",
            "ARIA_VAULT_GATEWAY_URL": f"http://127.0.0.1:{ports['vault-gateway']}"}
    envs = {
        "vault-gateway": {**base, "ARIA_VAULT_ADDR": infra.vault_addr, "ARIA_VAULT_ROLE_ID": infra.vault_role_id,
                          "ARIA_VAULT_SECRET_ID": infra.vault_secret_id},
        "webhook-ingest": {**base, "ARIA_RATE_LIMIT_PER_S": "1000000", "ARIA_RATE_LIMIT_BURST": "1000000",
                           "ARIA_SECRET_CACHE_S": "3600", "ARIA_HTTP_WORKERS": str(args.workers),
                           # Group-commit knobs, passed through so a run can try other values.
                           **{k: v for k, v in os.environ.items() if k.startswith("ARIA_COMMIT_")}},
    }
    processes = {}
    try:
        for service, env in envs.items():
            env.update(ARIA_DATABASE_URL=await create_database(infra, f"bench-{service}"),
                       ARIA_HTTP_PORT=str(ports[service]))
            subprocess.run([str(BIN / f"aria-{service}"), "migrate"], env=env, check=True, capture_output=True)
            processes[service] = start_service(service, env, work / f"{service}.log")

        # One generic-webhook installation: its signing secret in vault-gateway, its endpoint live.
        installation_id, org_id = uuid.uuid4(), uuid.uuid4()
        installer = {"authorization": "Bearer " + mint_token(jwt, subject="service:installer", service="installer")}
        stored = httpx.put(f"{base['ARIA_VAULT_GATEWAY_URL']}/internal/v1/installations/{installation_id}/credentials/"
                           "connector", json={"org_id": str(org_id), "secrets": {"signing_secret": SECRET}},
                           headers=installer, timeout=30)
        stored.raise_for_status()
        conn = await asyncpg.connect(envs["webhook-ingest"]["ARIA_DATABASE_URL"])
        try:
            # What the lifecycle subscriber writes on installation.enabled (not published: the bench
            # must not announce a fake installation to the shared Kafka's other consumers).
            await conn.execute(
                """INSERT INTO webhook_endpoints (installation_id, org_id, integration_key, credential_ref, live, revision)
                   VALUES ($1, $2, 'generic_webhook', $3, true, 1)""",
                installation_id, org_id, stored.json()["credential_ref"])
        finally:
            await conn.close()

        url_path = f"/v1/webhooks/{installation_id}"
        ingest_url = f"http://127.0.0.1:{ports['webhook-ingest']}"
        for name, extra in (("bare", []), ("raw", ["--raw"])):
            processes[name] = subprocess.Popen(
                [sys.executable, str(HERE / "bare.py"), str(ports[name]), str(args.workers), *extra],
                stdout=(work / f"{name}.log").open("wb"), stderr=subprocess.STDOUT)
            for _ in range(100):
                try:
                    httpx.post(f"http://127.0.0.1:{ports[name]}{url_path}", content=b"{}")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        bare_url, raw_url = f"http://127.0.0.1:{ports['bare']}", f"http://127.0.0.1:{ports['raw']}"

        print(f"webhook ingest benchmark  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}, {args.workers} worker(s) each, "
              f"wrk -t{args.threads} -d{args.seconds}s, closed loop)")
        db_url = envs["webhook-ingest"]["ARIA_DATABASE_URL"]
        for connections in args.connections:
            # Fresh deliveries for each run (never a replay, which is a cheap duplicate): more than
            # any run on this machine can send.
            warm, measured = work / f"warm-{connections}.tsv", work / f"measured-{connections}.tsv"
            presign(warm, url_path, 3 * 6000)
            presign(measured, url_path, args.seconds * 6000)
            load = dict(seconds=args.seconds, connections=connections, threads=args.threads)
            wrk(bare_url, warm, **{**load, "seconds": 3})
            bare_cpu = cpu_seconds(processes["bare"].pid)
            bare = wrk(bare_url, measured, **load)
            bare_cpu = cpu_seconds(processes["bare"].pid) - bare_cpu
            wrk(raw_url, warm, **{**load, "seconds": 3})
            raw_cpu = cpu_seconds(processes["raw"].pid)
            raw = wrk(raw_url, measured, **load)
            raw_cpu = cpu_seconds(processes["raw"].pid) - raw_cpu
            wrk(ingest_url, warm, **{**load, "seconds": 3})  # lease the secret, fill pools
            conn = await asyncpg.connect(db_url)
            try:
                before = await conn.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'accepted'")
                # The service's pool connections (warm by now): their backends' CPU is the deliveries' Postgres cost.
                backends = [r["pid"] for r in await conn.fetch(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
                broker = [pid for pid in [_kafka_broker_pid()] if pid is not None]
                cpu_before = [cpu_seconds(processes["webhook-ingest"].pid), _cpu_of(backends), _cpu_of(broker)]
                ingest = wrk(ingest_url, measured, **load)
                cpu, pg_cpu, kafka_cpu = (after - start for after, start in zip(
                    [cpu_seconds(processes["webhook-ingest"].pid), _cpu_of(backends), _cpu_of(broker)], cpu_before))
                counts = dict(await conn.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY status"))
            finally:
                await conn.close()
            accepted = counts.get("accepted", 0) - before
            # Each worker keeps its own counters, and which one answers is the kernel's choice: so
            # this is one worker's since it started (warm-ups and earlier runs included).
            batches = _batch_sizes(httpx.get(f"{ingest_url}/metrics").text)

            print(f"\n{connections} connections")
            row = "{:<34} {:>10} {:>9} {:>9} {:>9}"
            print(row.format("", "req/s", "p50 ms", "p90 ms", "p99 ms"))
            for name, f in (("plain ASGI 204 (uvicorn alone)", raw), ("bare FastAPI 204 (ceiling)", bare),
                            ("webhook-ingest (202, acks=all)", ingest)):
                print(row.format(name, f"{f['rps']:,.0f}", *(f"{f[f'LATENCY_P{p}_US'] / 1000:.1f}" for p in (50, 90, 99))))
            print(f"accepted deliveries: {accepted:,} ({accepted / (ingest['DURATION_US'] / 1e6):,.0f}/s); non-2xx/errors: "
                  f"{int(ingest['ERRORS'])}; replayed (duplicates): {int(ingest['REPEATS'])}; rejected/duplicate rows: "
                  f"{counts.get('rejected', 0)}/{counts.get('duplicate', 0)}")
            # CPU per delivery is the figure that least depends on what else runs on the machine; on
            # a saturated 2-core machine the ratio to the ceiling is about the ratio of CPU per request.
            per = max(accepted, 1) / 1000
            print(f"CPU ms per request, plain ASGI: {raw_cpu * 1000 / max(raw['REQUESTS'], 1):.3f}, "
                  f"bare FastAPI: {bare_cpu * 1000 / max(bare['REQUESTS'], 1):.3f}; per accepted "
                  f"delivery, webhook-ingest {cpu / per:.3f} + its Postgres backends {pg_cpu / per:.3f} + Kafka broker "
                  + (f"{kafka_cpu / per:.3f}" if broker else "(not the local stack's: not measured)")
                  + f" = {(cpu + pg_cpu + kafka_cpu) / per:.3f}")
            print(f"group commit (one worker, since it started): {batches[1]:,.0f} batches, "
                  f"{batches[0] / max(batches[1], 1):.1f} deliveries per batch on average")
            print(f"ratio to ceiling: {ingest['rps'] / bare['rps']:.0%}   "
                  f"targets: >= 2,000/s, p99 < 50 ms, >= 60% of ceiling")
    finally:
        for process in processes.values():
            stop(process)
        shutil.rmtree(work, ignore_errors=True)
        await drop_created_databases()


if __name__ == "__main__":
    asyncio.run(main())
