"""Sync throughput: CrowdStrike simulator → connector → contract events acknowledged by Kafka,
next to Airbyte's declarative CDK reading the same simulator, in one run.

    uv run --frozen python bench/sync/run.py [--records 100000] [--skip-airbyte]

Both sides read a CrowdStrike Falcon simulator process (`--records/2` alerts + `--records/2`
hosts, OAuth2 client credentials, ids-then-entities per stream, rate limit lifted).

* ARIA: sync-runner's job code path in this process - `accept_request` → `claim_job` →
  `run_job` with a real Postgres database (jobs, checkpoints, outbox), the credential leased
  from a real vault-gateway process (OpenBao), the connector's paging/hydration/mapping to
  risk and asset events, each batch published with acks=all before its checkpoint commits.
* Airbyte: `source-declarative-manifest read` (PyPI airbyte-cdk, installed by this script into
  .local/bench/airbyte-venv) with bench/sync/airbyte_manifest.yaml: the same OAuth2 and the
  same two-step reads; records go to stdout as Airbyte RECORD messages and are only counted
  (no mapping, no destination).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from aria_connectors import registry  # noqa: E402
from aria_platform.app import tune_gc  # noqa: E402
from aria_platform.auth import mint_token  # noqa: E402
from aria_platform.db import create_pool, migrate  # noqa: E402
from aria_platform.internal import InternalClient  # noqa: E402
from aria_platform.kafka import create_broker  # noqa: E402
from aria_platform.logging import configure_logging  # noqa: E402
from aria_platform.testing import create_database, discover_infra, drop_created_databases, free_port  # noqa: E402
from aria_sync_runner.jobs import repo as jobs_repo, service as jobs  # noqa: E402
from aria_sync_runner.jobs.workers import StreamWorkers  # noqa: E402
from aria_sync_runner.outbound import tls_context  # noqa: E402
from aria_sync_runner.settings import SyncRunnerSettings  # noqa: E402
from tests.support import BIN, start_service, stop  # noqa: E402

HERE = Path(__file__).resolve().parent
AIRBYTE_VENV = REPO / ".local/bench/airbyte-venv"
CLIENT_ID, CLIENT_SECRET = "bench-client", f"bench-secret-{uuid.uuid4().hex}"
SYNC_MIGRATIONS = REPO / "services/sync-runner/src/aria_sync_runner/migrations"


def airbyte_cdk() -> Path:
    """The CDK's entry point in its own virtual environment (created on first use)."""
    entry = AIRBYTE_VENV / "bin/source-declarative-manifest"
    if not entry.exists():
        subprocess.run(["uv", "venv", "-q", "-p", "3.11", str(AIRBYTE_VENV)], check=True)
        subprocess.run(["uv", "pip", "install", "-q", "airbyte-cdk"], check=True,
                       env={**os.environ, "VIRTUAL_ENV": str(AIRBYTE_VENV)})
    return entry


def warm_up(simulator: str) -> None:
    """One query per stream and order before either side is timed: the simulator sorts its tenant
    once per order, on the first query in it, and that should not count against whoever reads
    first (ours also asks for the newest record first: keyset paging's upper bound)."""
    token = httpx.post(f"{simulator}/oauth2/token", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                       timeout=30).json()["access_token"]
    for path, sort in (("/alerts/queries/alerts/v2", "updated_timestamp|asc"),
                       ("/alerts/queries/alerts/v2", "updated_timestamp|desc"),
                       ("/devices/queries/devices/v1", "modified_timestamp.asc"),
                       ("/devices/queries/devices/v1", "modified_timestamp.desc")):
        httpx.get(simulator + path, params={"limit": 1, "sort": sort}, headers={"authorization": f"Bearer {token}"},
                  timeout=60).raise_for_status()


def run_airbyte(simulator: str, work: Path) -> tuple[int, float]:
    import yaml

    config = {"base_url": simulator, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "__injected_declarative_manifest": yaml.safe_load((HERE / "airbyte_manifest.yaml").read_text())}
    catalog = {"streams": [{"stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                            "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                           for name in ("alerts", "hosts")]}
    (work / "config.json").write_text(json.dumps(config))
    (work / "catalog.json").write_text(json.dumps(catalog))
    started = time.perf_counter()
    process = subprocess.Popen([str(airbyte_cdk()), "read", "--config", str(work / "config.json"),
                                "--catalog", str(work / "catalog.json")], stdout=subprocess.PIPE,
                               stderr=(work / "airbyte.err").open("wb"))
    records = 0
    for line in process.stdout:
        if line.startswith(b'{"type":"RECORD"') or b'"type": "RECORD"' in line[:40]:
            records += 1
    process.wait()
    return records, time.perf_counter() - started


def workers_cpu(streams: StreamWorkers | None) -> float:
    """CPU seconds used so far by the replica's stream worker processes (user + system)."""
    total = 0.0
    for worker in streams.processes if streams is not None else []:
        if worker is not None:
            fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def run_aria(infra, simulator: str, work: Path) -> tuple[int, float, dict]:
    gateway_port = free_port()
    gateway_env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARIA_")},
                   "ARIA_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "ARIA_JWT_SECRET": infra.jwt_secret,
                   "ARIA_LOG_LEVEL": "WARNING", "ARIA_KAFKA_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:8]}-",
                   "ARIA_VAULT_ADDR": infra.vault_addr, "ARIA_VAULT_ROLE_ID": infra.vault_role_id,
                   "ARIA_VAULT_SECRET_ID": infra.vault_secret_id, "ARIA_HTTP_PORT": str(gateway_port),
                   "ARIA_DATABASE_URL": await create_database(infra, "bench-vault-gateway")}
    subprocess.run([str(BIN / "aria-vault-gateway"), "migrate"], env=gateway_env, check=True, capture_output=True)
    gateway = start_service("vault-gateway", gateway_env, work / "vault-gateway.log")
    gateway_url = f"http://127.0.0.1:{gateway_port}"
    org_id, installation_id = uuid.uuid4(), uuid.uuid4()
    try:
        installer = {"authorization": "Bearer " + mint_token(infra.jwt_secret, subject="service:installer",
                                                             service="installer")}
        stored = httpx.put(f"{gateway_url}/internal/v1/installations/{installation_id}/credentials/connector",
                           json={"org_id": str(org_id), "secrets": {"client_secret": CLIENT_SECRET}},
                           headers=installer, timeout=30)
        stored.raise_for_status()
        settings = SyncRunnerSettings(database_url=await create_database(infra, "bench-sync-runner"),
                                      kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                                      outbound_allowlist=["127.0.0.1"], vault_gateway_url=gateway_url,
                                      log_level="WARNING")
        await migrate(settings.database_url, SYNC_MIGRATIONS)
        pool = await create_pool(settings.database_url)
        broker = create_broker(infra.kafka_bootstrap, client_id="aria-sync-bench")
        await broker.start()
        http = httpx.AsyncClient(timeout=30)
        streams = None
        try:
            vault_gateway = InternalClient(http, gateway_url, service="sync-runner", secret=infra.jwt_secret,
                                           issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                           target="vault-gateway")
            # The replica's stream worker processes, started with it as the service's worker does.
            streams = StreamWorkers(settings, settings.stream_workers) if settings.stream_workers else None
            if streams is not None:
                await streams.start()
            deps = jobs.Deps(pool=pool, broker=broker, outbound=http, vault_gateway=vault_gateway,
                             settings=settings, replica="bench", stream_workers=streams)
            registry.discover()  # a running sync-runner loaded the connectors at its first job, not per job
            tls_context()  # the replica built it at start (its wired vendor client), each job's client reuses it
            tune_gc()  # as every service process does once it started
            started, cpu_started, workers_started = time.perf_counter(), time.process_time(), workers_cpu(streams)
            await jobs.accept_request(pool=pool, max_retries=0, request_id=uuid.uuid4(), org_id=org_id,
                                      installation_id=installation_id, integration_key="crowdstrike_falcon",
                                      sync_type="full", requested_by="bench",
                                      settings={"base_url": simulator, "client_id": CLIENT_ID},
                                      credential_ref=stored.json()["credential_ref"], config_version=1)
            job = await jobs.claim_job(pool=pool, settings=settings, replica="bench")
            state = await jobs.run_job(deps=deps, job=job)
            elapsed = time.perf_counter() - started
            cpu, workers = time.process_time() - cpu_started, workers_cpu(streams) - workers_started
            row = dict(await jobs_repo.get_job(pool, job["id"]))
            if state != "completed":
                raise RuntimeError(f"sync job ended {state}: {row.get('error_message')}")
            return row["published_events"], elapsed, {**row, "cpu_s": cpu + workers, "workers_cpu_s": workers}
        finally:
            if streams is not None:
                await streams.stop()
            await http.aclose()
            await broker.stop()
            await pool.close()
    finally:
        stop(gateway)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000, help="alerts + hosts in the simulator")
    parser.add_argument("--skip-airbyte", action="store_true")
    args = parser.parse_args()
    configure_logging("sync-bench", "WARNING")
    infra = discover_infra()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    port = free_port()
    simulator = subprocess.Popen(
        [sys.executable, "-m", "aria_connector_testkit.simulators", "serve", "crowdstrike_falcon", "--port", str(port),
         "--records", str(args.records // 2), "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
         # --offset-window 0: Airbyte's manifest pages the id queries by offset, which the real API
         # refuses past 10,000 results (ours pages by keyset); lifted so both read every record
         "--rate-limit", "100000000", "--offset-window", "0"],
        stdout=(work / "simulator.log").open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # the simulator generates its whole tenant before listening
        while True:
            try:
                httpx.get(f"{url}/_sim/state", timeout=5)
                break
            except httpx.TransportError:
                if simulator.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"simulator not ready: {(work / 'simulator.log').read_text()[-2000:]}") from None
                time.sleep(0.5)
        warm_up(url)
        ours, ours_s, job = await run_aria(infra, url, work)
        theirs, theirs_s = (0, 0.0) if args.skip_airbyte else run_airbyte(url, work)
    finally:
        stop(simulator)
        await drop_created_databases()
    print(f"sync benchmark  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load average "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}, CrowdStrike simulator, {args.records:,} records)")
    print(f"ARIA sync-runner (map + publish acks=all + checkpoints): {ours:,} events in {ours_s:.1f} s = "
          f"{ours / ours_s:,.0f} records/s   (job: processed {job['processed_records']:,}, "
          f"failed {job['failed_records']:,})")
    print(f"  its CPU (this process and its stream worker processes: connector, mapping, encoding, Kafka "
          f"client, Postgres client): "
          f"{job['cpu_s']:.1f} s = {1e6 * job['cpu_s'] / max(ours, 1):.0f} µs per record "
          f"(stream workers {job['workers_cpu_s']:.1f} s)")
    if theirs:
        print(f"Airbyte declarative CDK (read to stdout only):         {theirs:,} records in {theirs_s:.1f} s = "
              f"{theirs / theirs_s:,.0f} records/s")
        print(f"ratio: {(ours / ours_s) / (theirs / theirs_s):.2f}x   targets: >= 2x, >= 20,000 records/s, "
              f"100,000 records well under 5 min")


if __name__ == "__main__":
    asyncio.run(main())
