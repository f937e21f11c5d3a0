"""webhook-ingest's own clients and caches, built once at start and read as ``rt.deps_of(WebhookIngestDeps)``."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from aria_platform.internal import InternalClient
from aria_platform.outbound import GuardedTransport, guard_of, guarded_client
from aria_platform.runtime import Runtime

from .deliveries.group_commit import GroupCommit
from .deliveries.limits import TokenBuckets
from .deliveries.secrets import LeasedSecrets
from .endpoints.service import LiveEndpoints
from .outbound.sender import Sender, SenderSettings
from .outbound.service import Subscriptions
from .settings import WebhookIngestSettings


@dataclass(frozen=True)
class WebhookIngestDeps:
    secrets: LeasedSecrets  # leases from vault-gateway, cached per installation
    limiter: TokenBuckets  # per-installation delivery rate
    endpoints: LiveEndpoints  # endpoint rows, NOTIFY-invalidated
    commits: GroupCommit  # one transaction and one Kafka round trip per batch of deliveries
    vault_gateway: InternalClient  # stores and shreds outbound signing secrets
    outbound_secrets: LeasedSecrets  # outbound endpoints' signing secrets (keyed by endpoint id)
    guard: GuardedTransport  # the SSRF guard of the outbound client (also checks URLs on create)
    outbound_client: httpx.AsyncClient  # every outbound webhook goes through it: guarded, no redirects
    subscriptions: Subscriptions  # organizations' enabled endpoints, for the fan-out
    sender: Sender  # the delivery loop (a background hook)


async def start(rt: Runtime) -> None:
    """on_start hook."""
    s: WebhookIngestSettings = rt.settings  # type: ignore[assignment]
    vault_gateway = rt.internal_client(s.vault_gateway_url, target="vault-gateway")
    outbound_secrets = LeasedSecrets(vault_gateway, ttl_s=s.secret_cache_s)
    outbound_client = guarded_client(allowlist=s.outbound_webhook_allow_hosts, timeout_s=s.outbound_timeout_s,
                                     follow_redirects=False, user_agent="aria-webhooks/1",
                                     who="outbound webhooks", max_connections=s.outbound_concurrency)
    deps = WebhookIngestDeps(
        secrets=LeasedSecrets(vault_gateway, ttl_s=s.secret_cache_s),
        limiter=TokenBuckets(rate_per_s=s.rate_limit_per_s, burst=s.rate_limit_burst),
        endpoints=LiveEndpoints(rt.pool, s.database_url, ttl_s=s.endpoint_cache_s),
        commits=GroupCommit(pool=rt.pool, broker=rt.broker, publish_timeout_s=s.publish_timeout_s,
                            max_batch=s.commit_batch_max, max_in_flight=s.commit_max_in_flight,
                            linger_s=s.commit_linger_s),
        vault_gateway=vault_gateway, outbound_secrets=outbound_secrets,
        guard=guard_of(outbound_client),
        outbound_client=outbound_client, subscriptions=Subscriptions(rt.pool, ttl_s=s.outbound_subscriptions_cache_s),
        sender=Sender(pool=rt.pool, client=outbound_client, secrets=outbound_secrets, settings=SenderSettings(
            batch=s.outbound_batch, concurrency=s.outbound_concurrency, poll_interval_s=s.outbound_poll_interval_s,
            timeout_s=s.outbound_timeout_s, backoff_base_s=s.outbound_backoff_base_s,
            backoff_max_s=s.outbound_backoff_max_s, retry_window_s=s.outbound_retry_window_s,
            disable_after_s=s.outbound_disable_after_s, retention_s=s.outbound_retention_s)))
    deps.endpoints.start()
    deps.commits.start()
    rt.deps = deps


async def stop(rt: Runtime) -> None:
    """on_stop hook. Runs before the broker stops: batches in flight still need the producer for their acks."""
    deps = rt.deps_of(WebhookIngestDeps)
    await deps.commits.stop()
    await deps.endpoints.stop()
    await deps.outbound_client.aclose()


async def send_outbound(rt: Runtime) -> None:
    """Background hook: the outbound delivery loop."""
    await rt.deps_of(WebhookIngestDeps).sender.run()
