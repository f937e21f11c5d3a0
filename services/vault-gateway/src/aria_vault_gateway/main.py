"""Wires vault-gateway: settings → Vault client → routes, subscribers, rotation and renewal loops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.runtime import Runtime

from .credentials import events as credential_events
from .credentials import service as credential_service
from .credentials import views as credential_views
from .settings import VaultGatewaySettings, load
from .vault import Vault, VaultUnavailable

log = structlog.get_logger(__name__)


async def _start(rt: Runtime) -> None:
    s: VaultGatewaySettings = rt.settings  # type: ignore[assignment]
    vault = Vault(addr=s.vault_addr, role_id=s.vault_role_id, secret_id=s.vault_secret_id.get_secret_value(),
                  transit_mount=s.vault_transit_mount, kv_mount=s.vault_kv_mount,
                  ciphertext_cache_size=s.vault_ciphertext_cache_size)
    rt.extras["vault"] = vault


async def _maintain(rt: Runtime) -> None:
    """Renew our Vault token and rotate credentials that are due."""
    s: VaultGatewaySettings = rt.settings  # type: ignore[assignment]
    vault: Vault = rt.extras["vault"]
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
    await rt.extras["vault"].ready()


def define(settings: VaultGatewaySettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="vault-gateway", title="ARIA vault-gateway",
        description="Internal credential service: the only holder of a Vault token. Stores, leases, rotates "
                    "and crypto-shreds installation credentials; metadata and audit in Postgres, never values.",
        settings=settings, routers=[credential_views.router], kafka_routers=[credential_events.build_router(settings)],
        on_start=[_start], background=[_maintain], readiness=[vault],
    )


cli = service_cli(load_settings=load, define=define, migrations=Path(__file__).parent / "migrations")
