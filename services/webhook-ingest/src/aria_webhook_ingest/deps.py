"""webhook-ingest's own clients and caches, built once at start and read as ``rt.deps_of(WebhookIngestDeps)``."""

from __future__ import annotations

from dataclasses import dataclass

from aria_platform.runtime import Runtime

from .deliveries.group_commit import GroupCommit
from .deliveries.limits import TokenBuckets
from .deliveries.secrets import LeasedSecrets
from .endpoints.service import LiveEndpoints
from .settings import WebhookIngestSettings


@dataclass(frozen=True)
class WebhookIngestDeps:
    secrets: LeasedSecrets  # leases from vault-gateway, cached per installation
    limiter: TokenBuckets  # per-installation delivery rate
    endpoints: LiveEndpoints  # endpoint rows, NOTIFY-invalidated
    commits: GroupCommit  # one transaction and one Kafka round trip per batch of deliveries


async def start(rt: Runtime) -> None:
    """on_start hook."""
    s: WebhookIngestSettings = rt.settings  # type: ignore[assignment]
    deps = WebhookIngestDeps(
        secrets=LeasedSecrets(rt.internal_client(s.vault_gateway_url, target="vault-gateway"),
                              ttl_s=s.secret_cache_s),
        limiter=TokenBuckets(rate_per_s=s.rate_limit_per_s, burst=s.rate_limit_burst),
        endpoints=LiveEndpoints(rt.pool, s.database_url, ttl_s=s.endpoint_cache_s),
        commits=GroupCommit(pool=rt.pool, broker=rt.broker, publish_timeout_s=s.publish_timeout_s,
                            max_batch=s.commit_batch_max, max_in_flight=s.commit_max_in_flight,
                            linger_s=s.commit_linger_s))
    deps.endpoints.start()
    deps.commits.start()
    rt.deps = deps


async def stop(rt: Runtime) -> None:
    """on_stop hook. Runs before the broker stops: batches in flight still need the producer for their acks."""
    deps = rt.deps_of(WebhookIngestDeps)
    await deps.commits.stop()
    await deps.endpoints.stop()
