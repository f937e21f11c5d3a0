"""Retention of log-like tables: rows older than the retention are purged, in small batches.

Every service names its log tables in its ServiceDefinition (`log_tables`); create_app then runs
one purge loop. The retention is one setting per service (`ARIA_RETENTION_DAYS`, 90 by default,
at most two years); short transactions keep the tables writable while a backlog goes.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import asyncpg
import structlog

log = structlog.get_logger(__name__)
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class LogTable:
    """A table whose rows are records of what happened, kept for the retention."""

    name: str
    time_column: str
    purgeable: str = "true"
    """SQL condition on a row that may go at all (a sync job only once it finished)."""

    def __post_init__(self) -> None:
        if not (_IDENT.match(self.name) and _IDENT.match(self.time_column)):
            raise ValueError(f"not a table and column name: {self.name}.{self.time_column}")

    def purge_sql(self) -> str:
        return (f"DELETE FROM {self.name} WHERE ctid = ANY(ARRAY("
                f"SELECT ctid FROM {self.name} WHERE {self.time_column} < now() - make_interval(days => $1) "
                f"AND ({self.purgeable}) LIMIT $2))")


async def purge(*, pool: asyncpg.Pool, tables: tuple[LogTable, ...], retention_days: int,
                batch: int = 5000) -> dict[str, int]:
    """Rows deleted per table; each batch its own transaction."""
    deleted: dict[str, int] = {}
    async with pool.acquire() as conn:
        for table in tables:
            sql, total = table.purge_sql(), 0
            while True:
                count = int((await conn.execute(sql, retention_days, batch)).split()[-1])
                total += count
                if count < batch:
                    break
            deleted[table.name] = total
    return deleted


async def keep(*, pool: asyncpg.Pool, tables: tuple[LogTable, ...], retention_days: int, interval_s: float) -> None:
    """The purge loop: runs until cancelled; a failed round is logged and tried again next interval."""
    while True:
        try:
            deleted = await purge(pool=pool, tables=tables, retention_days=retention_days)
            if any(deleted.values()):
                log.info("log tables purged", retention_days=retention_days,
                         **{k: v for k, v in deleted.items() if v})
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("log table purge failed; retrying next interval")
        await asyncio.sleep(interval_s)
