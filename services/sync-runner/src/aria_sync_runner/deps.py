"""sync-runner's own clients and its worker, built once at start and read as ``rt.deps_of(SyncRunnerDeps)``."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from aria_platform.internal import InternalClient
from aria_platform.runtime import Runtime

from .connectors import vendor_client
from .settings import SyncRunnerSettings
from .worker import Worker


@dataclass(frozen=True)
class SyncRunnerDeps:
    vault_gateway: InternalClient  # leases credentials
    outbound: httpx.AsyncClient  # the one SSRF-guarded client for vendor HTTP outside jobs (tests, health, push)
    worker: Worker  # claims and runs this replica's jobs


async def start(rt: Runtime) -> None:
    """on_start hook: the clients, then the worker's loops."""
    s: SyncRunnerSettings = rt.settings  # type: ignore[assignment]
    vault_gateway = rt.internal_client(s.vault_gateway_url, target="vault-gateway")
    outbound = vendor_client(s)
    deps = SyncRunnerDeps(vault_gateway=vault_gateway, outbound=outbound,
                          worker=Worker(rt, vault_gateway=vault_gateway, outbound=outbound))
    rt.deps = deps
    deps.worker.start()


async def stop(rt: Runtime) -> None:
    """on_stop hook: the worker hands its jobs back before the vendor client closes."""
    deps = rt.deps_of(SyncRunnerDeps)
    await deps.worker.stop()
    await deps.outbound.aclose()
