"""Wires sync-runner: settings → vault-gateway client + guarded vendor HTTP client → routes, subscribers, worker."""

from __future__ import annotations

from pathlib import Path

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.retention import LogTable

from . import deps
from .actions import events as action_events
from .connections import views as connection_views
from .jobs import events as job_events
from .jobs import views as job_views
from .rules import events as rule_events
from .rules import views as rule_views
from .schedules import events as schedule_events
from .settings import SyncRunnerSettings, load


def define(settings: SyncRunnerSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="sync-runner", title="ARIA sync-runner",
        description="Runs connector syncs on schedule and on request (one replica per job, resumable from "
                    "checkpoints): leases credentials from vault-gateway, pulls vendor data through an SSRF-guarded "
                    "client, publishes normalized entity events, job lifecycle and health events, runs the push "
                    "actions people ask for (action.requested) and evaluates and executes automation rules.",
        settings=settings, routers=[connection_views.router, job_views.router, rule_views.router],
        kafka_routers=[job_events.build_router(group_id=settings.group(settings.sync_group_id)),
                       schedule_events.build_router(group_id=settings.group(settings.lifecycle_group_id)),
                       rule_events.build_router(group_id=settings.group(settings.rules_group_id)),
                       action_events.build_router(group_id=settings.group(settings.actions_group_id),
                                                  entities_group_id=settings.group(settings.action_entities_group_id),
                                                  entities_offset_reset=settings.action_entities_offset_reset)],
        on_start=[deps.start], on_stop=[deps.stop],
        log_tables=[LogTable("integration_sync_jobs", "created_at",
                             purgeable="status IN ('completed', 'failed', 'cancelled')")],
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
