"""Wires webhook-ingest: settings → lease client, rate limiter → routes and lifecycle subscriber."""

from __future__ import annotations

from pathlib import Path

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.runtime import Runtime

from .deliveries import views as delivery_views
from .deliveries.group_commit import GroupCommit
from .deliveries.limits import TokenBuckets
from .deliveries.secrets import LeasedSecrets
from .endpoints import events as endpoint_events
from .endpoints.service import LiveEndpoints
from .settings import WebhookIngestSettings, load


async def _start(rt: Runtime) -> None:
    s: WebhookIngestSettings = rt.settings  # type: ignore[assignment]
    client = rt.internal_client(s.vault_gateway_url, target="vault-gateway")
    rt.extras["secrets"] = LeasedSecrets(client, ttl_s=s.secret_cache_s)
    rt.extras["limiter"] = TokenBuckets(rate_per_s=s.rate_limit_per_s, burst=s.rate_limit_burst)
    endpoints = LiveEndpoints(rt.pool, s.database_url, ttl_s=s.endpoint_cache_s)
    endpoints.start()
    rt.extras["endpoints"] = endpoints
    commits = GroupCommit(pool=rt.pool, broker=rt.broker, publish_timeout_s=s.publish_timeout_s,
                          max_batch=s.commit_batch_max, max_in_flight=s.commit_max_in_flight, linger_s=s.commit_linger_s)
    commits.start()
    rt.extras["commits"] = commits


async def _stop(rt: Runtime) -> None:
    # Runs before the broker stops: batches in flight still need the producer for their acks.
    await rt.extras["commits"].stop()
    await rt.extras["endpoints"].stop()


def define(settings: WebhookIngestSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="webhook-ingest", title="ARIA webhook-ingest",
        description="Public endpoints where vendors push webhooks: verified by signature with the installation's "
                    "leased secret, size- and rate-limited, deduplicated by delivery id, normalized by the "
                    "connector and published to Kafka (acks=all) before the vendor gets 202.",
        settings=settings, routers=[delivery_views.public, delivery_views.internal],
        kafka_routers=[endpoint_events.build_router(group_id=settings.group(settings.endpoints_group_id))],
        on_start=[_start], on_stop=[_stop],
        # The vendor endpoint carries the load: served without FastAPI's layers (aria_platform.direct).
        direct_routes=[delivery_views.RECEIVE],
        # Deliveries are published inside their batch's transaction (group commit); nothing uses the outbox.
        outbox=False,
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
