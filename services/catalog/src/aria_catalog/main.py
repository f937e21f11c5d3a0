"""Wires catalog: settings → registry sync on start, public catalog API, install-count subscriber."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
import typer

from aria_platform.app import ServiceDefinition
from aria_platform.cli import service_cli
from aria_platform.db import create_pool
from aria_platform.runtime import Runtime

from .catalog import views as catalog_views
from .installs import events as install_events
from .registry_sync import service as registry_sync
from .settings import CatalogSettings, load

log = structlog.get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


async def _sync_registry(rt: Runtime) -> None:
    s: CatalogSettings = rt.settings  # type: ignore[assignment]
    if s.registry_sync_on_start:
        entries = await asyncio.to_thread(registry_sync.registry_entries)
        await registry_sync.sync_catalog(pool=rt.pool, entries=entries)


def define(settings: CatalogSettings) -> ServiceDefinition:
    return ServiceDefinition(
        name="catalog", title="ARIA catalog",
        description="The integration marketplace catalog: every connector the platform ships, searchable and "
                    "filterable, with install counts kept from installation lifecycle events.",
        settings=settings, routers=[catalog_views.router], kafka_routers=[install_events.build_router(settings)],
        on_start=[_sync_registry],
        openapi_tags=[{"name": "catalog", "description": "Browse and search integrations (any user role)."}],
    )


cli = service_cli(load_settings=load, define=define, migrations=MIGRATIONS)


@cli.command("seed")
def seed_cmd() -> None:
    """Sync the catalog from the installed connector registry now (serve also does this on start)."""
    settings = load()

    async def run() -> registry_sync.SyncReport:
        pool = await create_pool(settings.database_url, max_size=2)
        try:
            return await registry_sync.sync_catalog(pool=pool, entries=registry_sync.registry_entries())
        finally:
            await pool.close()

    report = asyncio.run(run())
    typer.echo("catalog: " + ", ".join(f"{k} {v}" for k, v in report.summary().items()))
