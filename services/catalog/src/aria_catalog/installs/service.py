"""Install counts from installation lifecycle events, exactly once per state change."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

import asyncpg
import structlog

from . import repo

log = structlog.get_logger(__name__)
Outcome = Literal["counted", "unchanged", "stale"]
Milestone = Literal["installed", "enabled"]


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


async def record_setup_milestone(*, pool: asyncpg.Pool, installation_id: uuid.UUID, integration_key: str,
                                 milestone: Milestone, at: datetime) -> None:
    """Remember when an installation was installed / first enabled (`at` = when the event happened).

    Keeping the earliest time per milestone makes this idempotent and order-independent: a
    redelivery, a late event or a second enable (after a disable) never moves a milestone.
    """
    await repo.record_milestone(pool, installation_id=installation_id, integration_key=integration_key,
                                milestone=milestone, at=at)


async def setup_time(*, pool: asyncpg.Pool, key: str) -> dict[str, Any]:
    """The detail page's "average setup time": installed → first enabled, per completed setup."""
    row = await repo.setup_time(pool, key=key)
    average = row["average_s"]
    return {"average_setup_time_s": round(average, 1) if average is not None else None,
            "setup_installations": row["installations"]}
