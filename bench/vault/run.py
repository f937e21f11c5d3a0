"""vault-gateway store and lease latency against the real OpenBao, over real HTTP.

    set -a; . .local/infra.env; set +a
    uv run --frozen python bench/vault/run.py [--stores 200] [--leases 1000] [--budget-s 50]

Serves vault-gateway with uvicorn on a loopback port (its own fresh database; no Kafka
subscribers, the outbox relay runs), then times, one request at a time, as its callers would:
  store (new)      PUT a credential for a new installation (creates its transit key)
  store (version)  PUT a new version of an existing installation's credential
  lease            POST .../lease as sync-runner (KV read + transit decrypt + audit row)
Targets (issue 5): lease p99 < 10 ms, store p99 < 20 ms. Stops early when --budget-s runs out.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import time
import uuid
from pathlib import Path

import httpx

from aria_platform.app import create_app
from aria_platform.testing import bearer, discover_infra, migrated_database, serving, service_token
from aria_vault_gateway.main import define
from aria_vault_gateway.settings import VaultGatewaySettings

MIGRATIONS = Path(__file__).parents[2] / "services/vault-gateway/src/aria_vault_gateway/migrations"
TARGETS_MS = {"store (new)": 20.0, "store (version)": 20.0, "lease": 10.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def timed(samples: list[float], call) -> httpx.Response:
    start = time.perf_counter()
    response = await call()
    samples.append((time.perf_counter() - start) * 1000)
    response.raise_for_status()
    return response


async def main(stores: int, leases: int, budget_s: float) -> None:
    infra = discover_infra()
    database = await migrated_database(infra, "bench_vault_gateway", MIGRATIONS)
    settings = VaultGatewaySettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap,
                                    vault_addr=infra.vault_addr, vault_role_id=infra.vault_role_id,
                                    vault_secret_id=infra.vault_secret_id, jwt_secret=infra.jwt_secret,
                                    log_level="WARNING")
    installer = bearer(service_token(infra, "installer"))
    sync_runner = bearer(service_token(infra, "sync-runner"))
    samples: dict[str, list[float]] = {name: [] for name in TARGETS_MS}
    deadline = time.monotonic() + budget_s
    async with serving(create_app(dataclasses.replace(define(settings), kafka_routers=()))) as url, \
            httpx.AsyncClient(base_url=url, timeout=10) as http:
        org = str(uuid.uuid4())
        refs: list[tuple[str, str]] = []
        for n in range(stores):
            if time.monotonic() > deadline:
                break
            inst = str(uuid.uuid4())
            body = {"org_id": org, "secrets": {"client_secret": f"bench-{n}-{uuid.uuid4().hex}"}}
            path = f"/internal/v1/installations/{inst}/credentials/connector"
            stored = await timed(samples["store (new)"], lambda: http.put(path, json=body, headers=installer))
            await timed(samples["store (version)"], lambda: http.put(path, json=body, headers=installer))
            refs.append((stored.json()["credential_ref"], inst))
        for n in range(leases):
            if time.monotonic() > deadline:
                break
            ref, inst = refs[n % len(refs)]
            await timed(samples["lease"], lambda: http.post(f"/internal/v1/credentials/{ref}/lease",
                                                            json={"installation_id": inst}, headers=sync_runner))
    print(f"vault-gateway over HTTP against OpenBao at {infra.vault_addr} (sequential requests)")
    print(f"{'operation':<16} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'mean ms':>8}  target p99")
    for name, values in samples.items():
        if not values:
            continue
        p99 = percentile(values, 99)
        verdict = "ok" if p99 < TARGETS_MS[name] else "MISSED"
        print(f"{name:<16} {len(values):>6} {percentile(values, 50):>8.2f} {p99:>8.2f} {max(values):>8.2f} "
              f"{statistics.fmean(values):>8.2f}  < {TARGETS_MS[name]:.0f} ms {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--leases", type=int, default=1000)
    parser.add_argument("--budget-s", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.stores, args.leases, args.budget_s))
