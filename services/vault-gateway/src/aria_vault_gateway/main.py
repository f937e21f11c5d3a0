"""Wires vault-gateway: settings → Vault client → routes, subscribers, rotation and renewal loops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.retention import LogTable
from aria_platform.runtime import Runtime

from . import deps
from .credentials import events as credential_events
from .credentials import service as credential_service
from .credentials import views as credential_views
from .settings import VaultGatewaySettings, load
from .deps import VaultGatewayDeps
from .vault import VaultUnavailable

log = structlog.get_logger(__name__)


async def _maintain(rt: Runtime) -> None:
    """Renew our Vault token and rotate credentials that are due."""
    s: VaultGatewaySettings = rt.settings  # type: ignore[assignment]
    vault = rt.deps_of(VaultGatewayDeps).vault
    while True:
        await asyncio.sleep(s.rotation_check_interval_s)
        try:
            await vault.renew()
            rotated = await credential_service.rotate_due_credentials(pool=rt.pool, vault=vault)
            if rotated:
                log.info("scheduled rotation", rotated=rotated)
        except VaultUnavailable:
            log.warning("vault unavailable during maintenance")
        except Exception:
            log.exception("maintenance failed")


async def vault(rt: Runtime) -> None:
    await rt.deps_of(VaultGatewayDeps).vault.ready()


def define(settings: VaultGatewaySettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="vault-gateway", title="ARIA vault-gateway",
        description="Internal credential service: the only holder of a Vault token. Stores, leases, rotates "
                    "and crypto-shreds installation credentials; metadata and audit in Postgres, never values.",
        settings=settings, routers=[credential_views.router], kafka_routers=[credential_events.build_router(settings)],
        on_start=[deps.wire], background=[_maintain], readiness=[vault],
        log_tables=[LogTable("credential_audit", "at")],
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
