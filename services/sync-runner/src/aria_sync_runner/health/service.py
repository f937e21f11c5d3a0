"""Scheduled health checks of enabled installations; IntegrationHealthChanged only on a change."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import OrderedDict
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
AUTHENTICATE_TIMEOUT_S = 10.0  # opening an installation's instance (token request), once per reuse period


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


class Instances:
    """Connector instances of health checks, one per installation, reused from check to check.

    A check is then one vendor call: the credential lease (vault-gateway, OpenBao) and the OAuth2
    token happen when an installation's instance is opened, not on every check. The trade-off: a
    replica holds the leased secret of each checked installation in memory (never stored, logged
    or sent anywhere but to the vendor) for at most ``ttl_s``, for at most ``max_size``
    installations (least recently checked evicted first). An instance is replaced when the
    installation's credential reference or configuration version changes, dropped when the vendor
    refuses its credential, and closed (secret and token forgotten) on eviction and on stop.
    """

    def __init__(self, *, ttl_s: float, max_size: int = 1024, clock=time.monotonic) -> None:
        self.ttl_s, self.max_size, self.clock = ttl_s, max_size, clock
        self._entries: OrderedDict[uuid.UUID, tuple[tuple, Any, float]] = OrderedDict()

    async def get(self, row: asyncpg.Record, *, outbound: httpx.AsyncClient, vault_gateway: InternalClient):
        """The installation's open instance; raises RunError / ConnectorError like a lease or open does."""
        iid = row["installation_id"]
        key = (row["integration_key"], row["credential_ref"], row["config_version"])
        entry = self._entries.get(iid)
        if entry is not None and entry[0] == key and self.clock() < entry[2]:
            self._entries.move_to_end(iid)
            return entry[1]
        await self.drop(iid)
        plugin = plugin_for(row["integration_key"])
        secrets = await lease_secrets(vault_gateway, credential_ref=row["credential_ref"], installation_id=iid)
        try:
            instance = open_instance(plugin, org_id=row["org_id"], installation_id=iid,
                                     integration_key=row["integration_key"], settings=row["settings"],
                                     secrets=secrets, http=outbound)
        finally:
            secrets = {}
        try:  # the OAuth2 token now, not inside the timed check
            auth = await asyncio.wait_for(instance.authenticate(), AUTHENTICATE_TIMEOUT_S)
        except asyncio.TimeoutError:
            auth = None
        if auth is None or not auth.ok:
            await instance.close()
            if auth is None:
                raise ConnectorError("transient", f"no credential answer within {AUTHENTICATE_TIMEOUT_S:.0f} s")
            raise ConnectorError(auth.error_class or "authentication", auth.message)
        self._entries[iid] = (key, instance, self.clock() + self.ttl_s)
        while len(self._entries) > self.max_size:
            _, (_, evicted, _) = self._entries.popitem(last=False)
            await evicted.close()
        return instance

    async def drop(self, installation_id: uuid.UUID) -> None:
        entry = self._entries.pop(installation_id, None)
        if entry is not None:
            await entry[1].close()

    async def close(self) -> None:
        for iid in list(self._entries):
            await self.drop(iid)


async def check_due(*, pool: asyncpg.Pool, outbound: httpx.AsyncClient, vault_gateway: InternalClient,
                    instances: Instances, interval_s: float, timeout_s: float) -> int:
    """Check every installation whose check is due (concurrently); returns how many were checked."""
    async with pool.acquire() as conn, conn.transaction():
        due = await repo.claim_due(conn, interval_s=interval_s, limit=BATCH)
    results = await asyncio.gather(*(_check(outbound, vault_gateway, instances, row, timeout_s) for row in due))
    async with pool.acquire() as conn, conn.transaction():
        for row, outcome in zip(due, results):
            if outcome is not None:
                await record(conn, org_id=row["org_id"], installation_id=row["installation_id"],
                             integration_key=row["integration_key"], status=outcome[0], details=outcome[1])
    return len(due)


async def _check(outbound: httpx.AsyncClient, vault_gateway: InternalClient, instances: Instances,
                 row: asyncpg.Record, timeout_s: float) -> tuple[str, dict] | None:
    """(status, details), or None when we could not find out (our side failed: no verdict on the vendor).
    The vendor call is bounded by ``timeout_s``; ``latency_ms`` is how long it took."""
    try:
        instance = await instances.get(row, outbound=outbound, vault_gateway=vault_gateway)
    except RunError as exc:
        if exc.error_class in ("transient", "internal"):
            return None
        return "down", {"error_class": exc.error_class, "error": exc.message}
    except ConnectorError as exc:
        return "down", {"error_class": exc.error_class, "error": exc.message}
    try:
        status = await asyncio.wait_for(instance.health_check(), timeout_s)
    except asyncio.TimeoutError:
        return "down", {"error_class": "transient", "error": f"no answer within {int(timeout_s * 1000)} ms"}
    if status.details.get("error_class") in ("authentication", "permission"):
        await instances.drop(row["installation_id"])  # lease again next time: the credential may have changed
    return status.status, {**status.details, "latency_ms": status.latency_ms}
