"""Wires webhook-ingest: settings → lease client, rate limiter → routes and lifecycle subscriber."""

from __future__ import annotations

from pathlib import Path

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.retention import LogTable

from . import deps
from .deliveries import views as delivery_views
from .endpoints import events as endpoint_events
from .outbound import events as outbound_events
from .outbound import views as outbound_views
from .settings import WebhookIngestSettings, load


def define(settings: WebhookIngestSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="webhook-ingest", title="ARIA webhook-ingest",
        description="Webhooks in and out. In: public endpoints where vendors push webhooks, verified by signature "
                    "with the installation's leased secret, size- and rate-limited, deduplicated by delivery id, "
                    "normalized by the connector and published to Kafka (acks=all) before the vendor gets 202. "
                    "Out: an organization's HTTPS endpoints subscribed to event types, sent Standard Webhooks "
                    "signed deliveries through the SSRF guard, retried for more than a day, replayable.",
        settings=settings, routers=[delivery_views.public, delivery_views.internal, outbound_views.router],
        kafka_routers=[endpoint_events.build_router(group_id=settings.group(settings.endpoints_group_id)),
                       outbound_events.build_router(group_id=settings.group(settings.outbound_group_id))],
        on_start=[deps.start], on_stop=[deps.stop], background=[deps.send_outbound],
        # The vendor endpoint carries the load: served without FastAPI's layers (aria_platform.direct).
        direct_routes=[delivery_views.RECEIVE],
        log_tables=[LogTable("webhook_deliveries", "received_at")],
        # Inbound deliveries are published inside their batch's transaction (group commit); the outbox
        # carries the outbound notices (outbound_endpoint.disabled).
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
