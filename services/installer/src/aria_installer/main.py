"""Wires the installer: routes, subscribers, clients for vault-gateway and sync-runner, log retention (the platform's)."""

from __future__ import annotations

from pathlib import Path

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.retention import LogTable

from . import deps
from .actions import events as action_events
from .actions import views as action_views
from .activity import views as activity_views
from .audit import views as audit_views
from .demos import views as demo_views
from .dev_signin import views as dev_signin_views
from .installations import events as installation_events
from .installations import views as installation_views
from .mappings import views as mapping_views
from .rules import service as rule_service
from .rules import views as rule_views
from .sync_jobs import views as sync_job_views
from .settings import InstallerSettings, load
from .webhooks import views as webhook_views


async def _convert_push_settings(rt: Runtime) -> None:
    """on_start hook: the retired push_min_severity setting becomes a rule, once (idempotent)."""
    await rule_service.convert_push_settings(pool=rt.pool)


def define(settings: InstallerSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="installer", title="ARIA installer",
        description="Install, configure, test, enable, disable, sync and uninstall integrations for an "
                    "organization; data mappings, sync and webhook settings; run connectors' push actions on "
                    "demand; automation rules (versions, audit, dry-run, executions). Secrets go to vault-gateway; every change is in the activity log and announced on "
                    "Kafka through a transactional outbox.",
        settings=settings,
        routers=[demo_views.router, installation_views.router, mapping_views.router, webhook_views.router,
                 sync_job_views.router, action_views.router, rule_views.router, activity_views.router, audit_views.router,
                 *([dev_signin_views.router] if settings.dev_signin else [])],
        kafka_routers=[installation_events.build_router(settings), action_events.build_router(settings)],
        on_start=[deps.wire, _convert_push_settings],
        log_tables=[LogTable("integration_activity_logs", "created_at"), LogTable("idempotency_keys", "created_at")],
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
