"""sync-runner's own clients and its worker, built once at start and read as ``rt.deps_of(SyncRunnerDeps)``."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from aria_platform.internal import InternalClient
from aria_platform.runtime import Runtime

from .actions.budgets import TargetBudgets
from .connectors import vendor_client
from .rules import service as rules
from .settings import SyncRunnerSettings
from .worker import Worker


@dataclass(frozen=True)
class SyncRunnerDeps:
    vault_gateway: InternalClient  # leases credentials
    outbound: httpx.AsyncClient  # the one SSRF-guarded client for vendor HTTP outside jobs (tests, health, push)
    worker: Worker  # claims and runs this replica's jobs
    budgets: TargetBudgets  # each target installation's rate budget for push actions
    rule_retries: rules.RetryPolicy  # attempts and backoff of automation rule executions
    tasks: list[asyncio.Task] = field(default_factory=list)  # background loops (rule retries)


async def start(rt: Runtime) -> None:
    """on_start hook: the clients, then the worker's loops."""
    s: SyncRunnerSettings = rt.settings  # type: ignore[assignment]
    vault_gateway = rt.internal_client(s.vault_gateway_url, target="vault-gateway")
    outbound = vendor_client(s)
    deps = SyncRunnerDeps(vault_gateway=vault_gateway, outbound=outbound,
                          worker=Worker(rt, vault_gateway=vault_gateway, outbound=outbound),
                          budgets=TargetBudgets(default_per_minute=s.action_rate_per_minute,
                                                default_burst=s.action_rate_burst),
                          rule_retries=rules.RetryPolicy(max_attempts=s.rule_max_attempts,
                                                         backoff_s=s.rule_retry_backoff_s,
                                                         backoff_max_s=s.rule_retry_backoff_max_s))
    rt.deps = deps
    deps.worker.start()
    deps.tasks.append(asyncio.create_task(rules.retry_loop(pool=rt.pool, interval_s=s.rule_retry_poll_s),
                                          name="rule-retries"))


async def stop(rt: Runtime) -> None:
    """on_stop hook: the worker hands its jobs back before the vendor client closes."""
    deps = rt.deps_of(SyncRunnerDeps)
    for task in deps.tasks:
        task.cancel()
    await asyncio.gather(*deps.tasks, return_exceptions=True)
    await deps.worker.stop()
    await deps.outbound.aclose()
