"""Wires webhook-ingest: settings → lease client, rate limiter → routes and lifecycle subscriber."""

from __future__ import annotations

from pathlib import Path

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli

from . import deps
from .deliveries import views as delivery_views
from .endpoints import events as endpoint_events
from .settings import WebhookIngestSettings, load


def define(settings: WebhookIngestSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="webhook-ingest", title="ARIA webhook-ingest",
        description="Public endpoints where vendors push webhooks: verified by signature with the installation's "
                    "leased secret, size- and rate-limited, deduplicated by delivery id, normalized by the "
                    "connector and published to Kafka (acks=all) before the vendor gets 202.",
        settings=settings, routers=[delivery_views.public, delivery_views.internal],
        kafka_routers=[endpoint_events.build_router(group_id=settings.group(settings.endpoints_group_id))],
        on_start=[deps.start], on_stop=[deps.stop],
        # The vendor endpoint carries the load: served without FastAPI's layers (aria_platform.direct).
        direct_routes=[delivery_views.RECEIVE],
        # Deliveries are published inside their batch's transaction (group commit); nothing uses the outbox.
        outbox=False,
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
