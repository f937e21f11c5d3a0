"""Scheduled health checks of enabled installations; IntegrationHealthChanged only on a change."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone
from typing import Any

import asyncpg
import httpx
import structlog

from aria_connectors.errors import ConnectorError
from aria_contracts.events import IntegrationHealthChanged
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced

from ..connectors import RunError, lease_secrets, open_instance, plugin_for
from . import repo

log = structlog.get_logger(__name__)
BATCH = 20


async def record(conn: asyncpg.Connection, *, org_id: uuid.UUID, installation_id: uuid.UUID, integration_key: str,
                 status: str, details: dict[str, Any]) -> bool:
    """Store an installation's health; publish IntegrationHealthChanged (outbox) when it changed."""
    if not await repo.set_status(conn, installation_id, status):
        return False
    event = IntegrationHealthChanged(installation_id=installation_id, org_id=org_id, integration_key=integration_key,
                                     status=status, checked_at=datetime.now(timezone.utc), details=details)
    await enqueue(conn, traced(event, source="sync-runner", org_id=org_id, installation_id=installation_id))
    log.info("installation health changed", installation_id=str(installation_id), status=status)
    return True


async def check_due(*, pool: asyncpg.Pool, outbound: httpx.AsyncClient, vault_gateway: InternalClient,
                    interval_s: float, timeout_s: float) -> int:
    """Check every installation whose check is due (concurrently); returns how many were checked."""
    async with pool.acquire() as conn, conn.transaction():
        due = await repo.claim_due(conn, interval_s=interval_s, limit=BATCH)
    results = await asyncio.gather(*(_check(outbound, vault_gateway, row, timeout_s) for row in due))
    async with pool.acquire() as conn, conn.transaction():
        for row, outcome in zip(due, results):
            if outcome is not None:
                await record(conn, org_id=row["org_id"], installation_id=row["installation_id"],
                             integration_key=row["integration_key"], status=outcome[0], details=outcome[1])
    return len(due)


async def _check(outbound: httpx.AsyncClient, vault_gateway: InternalClient, row: asyncpg.Record,
                 timeout_s: float) -> tuple[str, dict] | None:
    """(status, details), or None when we could not find out (our side failed: no verdict on the vendor)."""
    try:
        plugin = plugin_for(row["integration_key"])
        secrets = await lease_secrets(vault_gateway, credential_ref=row["credential_ref"],
                                      installation_id=row["installation_id"])
        instance = open_instance(plugin, org_id=row["org_id"], installation_id=row["installation_id"],
                                 integration_key=row["integration_key"], settings=row["settings"], secrets=secrets,
                                 http=outbound)
    except RunError as exc:
        if exc.error_class in ("transient", "internal"):
            return None
        return "down", {"error_class": exc.error_class, "error": exc.message}
    except ConnectorError as exc:
        return "down", {"error_class": exc.error_class, "error": exc.message}
    finally:
        secrets = {}
    try:
        status = await asyncio.wait_for(instance.health_check(), timeout_s)
    except asyncio.TimeoutError:
        return "down", {"error_class": "transient", "error": f"no answer within {int(timeout_s * 1000)} ms"}
    finally:
        await instance.close()
    return status.status, {**status.details, "latency_ms": status.latency_ms}
