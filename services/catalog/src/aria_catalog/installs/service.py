"""Install counts from installation lifecycle events, exactly once per state change."""

from __future__ import annotations

import uuid
from typing import Literal

import asyncpg
import structlog

from . import repo

log = structlog.get_logger(__name__)
Outcome = Literal["counted", "unchanged", "stale"]


async def record_installation_state(*, pool: asyncpg.Pool, installation_id: uuid.UUID, org_id: uuid.UUID,
                                    integration_key: str, installed: bool, revision: int) -> Outcome:
    """Apply one installed/uninstalled fact to the ledger; install_count moves only on a flip.

    The ledger keeps the newest revision per installation, so a redelivered event (same
    revision) or a late, older one changes nothing, whatever order they arrive in.
    """
    async with pool.acquire() as conn, conn.transaction():
        await repo.lock_integration(conn, integration_key)
        row = await repo.ledger_row(conn, installation_id)
        if row is not None and row["revision"] >= revision:
            return "stale"
        was_installed = bool(row and row["installed"])
        await repo.upsert_ledger(conn, installation_id=installation_id, org_id=org_id,
                                 integration_key=integration_key, installed=installed, revision=revision)
        delta = int(installed) - int(was_installed)
        if delta:
            await repo.add_to_install_count(conn, integration_key, delta)
            return "counted"
        return "unchanged"
