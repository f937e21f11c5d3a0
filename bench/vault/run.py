"""vault-gateway store and lease latency against the real OpenBao, over real HTTP.

    set -a; . .local/infra.env; set +a
    uv run --frozen python bench/vault/run.py [--seconds 10] [--connections 8] [--workers 1]

Starts `aria-vault-gateway serve` as its own process (fresh database, the real OpenBao, Postgres
and Kafka, the outbox relay running) and drives it with wrk (C, keep-alive, one thread), from
request files built before the run:
  store (new)      PUT a credential for a new installation (creates its transit key)
  store (version)  PUT a new version of an existing installation's credential
  lease            POST .../lease as sync-runner (authorize, decrypt, audit row)
Each is measured one request at a time (wrk -c1: the latency a caller sees), then lease and
store (version) again with --connections concurrent connections (throughput; a closed loop, so
latency there understates queueing). Every request must answer 2xx: errors are printed. Next to
the latencies it prints the service process's own CPU time per request, which does not depend
on what else the (shared) machine is doing.
Targets (issue 5): lease p99 < 10 ms, store p99 < 20 ms, both sequential. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from aria_platform.auth import mint_token  # noqa: E402
from aria_platform.testing import create_database, discover_infra, drop_created_databases, free_port  # noqa: E402
from bench import wrk  # noqa: E402
from bench.wrk import cpu_seconds, request_file  # noqa: E402
from tests.support import BIN, start_service, stop  # noqa: E402

HERE = Path(__file__).resolve().parent
TARGETS_MS = {"store (new)": 20.0, "store (version)": 20.0, "lease": 10.0}


def json_calls(token: str, calls: list[tuple[str, str, dict]]) -> list[tuple[str, str, dict[str, str], str]]:
    """(method, path, JSON body) calls as one identity: wrk.request_file's rows."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return [(method, path, headers, json.dumps(body)) for method, path, body in calls]


def measure(url: str, requests: Path, *, seconds: int, connections: int, pid: int) -> dict[str, float]:
    """A wrk run, with the service's CPU per request (cpu_ms)."""
    cpu_before = cpu_seconds(pid)
    figures = wrk.run(url, requests, seconds=seconds, connections=connections)
    figures["cpu_ms"] = (cpu_seconds(pid) - cpu_before) * 1000 / max(figures["REQUESTS"], 1)
    return figures


def wait_idle(pid: int, *, timeout_s: float = 120) -> None:
    """The shredder subscriber starts in a fresh consumer group and reads the lifecycle topic's
    history first (on a shared Kafka: every stack's); measure only once that is done."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1)
        if cpu_seconds(pid) - before < 0.02:
            return
    sys.exit("the service never became idle")


def stores(org_id: str, installations: list[uuid.UUID]) -> list[tuple[str, str, dict]]:
    return [("PUT", f"/internal/v1/installations/{inst}/credentials/connector",
             {"org_id": org_id, "secrets": {"client_secret": f"bench-{uuid.uuid4().hex}"}}) for inst in installations]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured run")
    parser.add_argument("--connections", type=int, default=8, help="connections of the concurrent runs (0: skip)")
    parser.add_argument("--workers", type=int, default=1, help="ARIA_HTTP_WORKERS of the service")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install -y wrk")
    infra = discover_infra()
    work = Path(tempfile.mkdtemp(prefix="bench-vault-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARIA_")},
           "ARIA_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "ARIA_JWT_SECRET": infra.jwt_secret,
           "ARIA_LOG_LEVEL": "WARNING", "ARIA_KAFKA_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-",
           "ARIA_VAULT_ADDR": infra.vault_addr, "ARIA_VAULT_ROLE_ID": infra.vault_role_id,
           "ARIA_VAULT_SECRET_ID": infra.vault_secret_id, "ARIA_HTTP_PORT": str(port),
           "ARIA_HTTP_WORKERS": str(args.workers),
           "ARIA_DATABASE_URL": await create_database(infra, "bench-vault-gateway")}
    subprocess.run([str(BIN / "aria-vault-gateway"), "migrate"], env=env, check=True, capture_output=True)
    installer = mint_token(infra.jwt_secret, subject="service:installer", service="installer")
    sync_runner = mint_token(infra.jwt_secret, subject="service:sync-runner", service="sync-runner")
    org_id = str(uuid.uuid4())
    # More fresh installations than a run can store; a repeat is counted and printed.
    fresh = int(args.seconds * 1000)
    process = start_service("vault-gateway", env, work / "vault-gateway.log")
    wait_idle(process.pid)
    load_before = os.getloadavg()
    results: list[tuple[str, int, dict[str, float]]] = []
    try:
        sequential = dict(seconds=args.seconds, connections=1, pid=process.pid)
        # Warm up: AppRole login, connection pools, first-use imports; not measured.
        measure(url, request_file(work / "warm.tsv", json_calls(installer, stores(org_id, [
            uuid.uuid4() for _ in range(3000)]))), seconds=2, connections=1, pid=process.pid)
        new = request_file(work / "new.tsv", json_calls(installer, stores(org_id, [uuid.uuid4() for _ in range(fresh)])))
        results.append(("store (new)", 1, measure(url, new, **sequential)))
        conn = await asyncpg.connect(env["ARIA_DATABASE_URL"])
        try:
            stored = await conn.fetch("SELECT credential_ref, installation_id FROM integration_credentials")
        finally:
            await conn.close()
        versions = request_file(work / "versions.tsv", json_calls(installer, stores(
            org_id, [r["installation_id"] for r in stored])))
        leases = request_file(work / "leases.tsv", json_calls(sync_runner, [
            ("POST", f"/internal/v1/credentials/{r['credential_ref']}/lease", {"installation_id": str(r["installation_id"])})
            for r in stored]))
        results.append(("store (version)", 1, measure(url, versions, **sequential)))
        results.append(("lease", 1, measure(url, leases, **sequential)))
        if args.connections:
            concurrent = dict(seconds=args.seconds, connections=args.connections, pid=process.pid)
            results.append(("store (version)", args.connections, measure(url, versions, **concurrent)))
            results.append(("lease", args.connections, measure(url, leases, **concurrent)))
        load_after = os.getloadavg()
    finally:
        stop(process)
        shutil.rmtree(work, ignore_errors=True)
        await drop_created_databases()

    health = httpx.get(f"{infra.vault_addr}/v1/sys/health", timeout=5).json()
    print(f"vault-gateway benchmark ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, "
          f"OpenBao {health.get('version')} at {infra.vault_addr} ({os.environ.get('ARIA_VAULT_MODE', '?')} mode), "
          f"{args.workers} worker(s), wrk -t1 keep-alive, {args.seconds} s per run)")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min)")
    row = "{:<16} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7}  {}"
    print(row.format("operation", "conns", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "CPU ms", "errors",
                     "target"))
    for name, connections, f in results:
        p99 = f["LATENCY_P99_US"] / 1000
        target = (f"p99 < {TARGETS_MS[name]:.0f} ms {'ok' if p99 < TARGETS_MS[name] else 'MISSED'}"
                  if connections == 1 else "(throughput)")
        if name == "store (new)" and f["REPEATS"]:
            target += f"  ({int(f['REPEATS'])} repeats: not all new)"
        print(row.format(name, connections, f"{f['rps']:,.0f}", *(f"{f[f'LATENCY_P{p}_US'] / 1000:.2f}" for p in (50, 90, 99)),
                         f"{f['LATENCY_MAX_US'] / 1000:.2f}", f"{f['cpu_ms']:.2f}", int(f["ERRORS"]), target))
    print("CPU ms: the service process's own CPU time per request (Vault and Postgres not included)")


if __name__ == "__main__":
    asyncio.run(main())
