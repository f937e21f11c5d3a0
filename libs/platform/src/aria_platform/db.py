"""Postgres pool and the versioned-SQL migration runner every service uses."""

from __future__ import annotations

import hashlib
from pathlib import Path

import asyncpg
import orjson

PLATFORM_MIGRATIONS = Path(__file__).parent / "migrations"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for kind in ("json", "jsonb"):
        await conn.set_type_codec(
            kind, schema="pg_catalog", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (RESET ALL, UNLISTEN *, advisory unlock, CLOSE ALL).

    That query is one more round trip on every release, i.e. on every pool.fetch*(). Nothing here
    leaves session state on a pooled connection (settings are SET LOCAL / set_config(..., true),
    advisory locks are transaction-scoped, the outbox listener removes its LISTEN), and asyncpg
    still rolls back a transaction left open before calling this.
    """


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10,
                      server_settings: dict[str, str] | None = None) -> asyncpg.Pool:
    """`server_settings`: Postgres settings of every pooled connection's session."""
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                     reset=_keep_session, server_settings=server_settings)


def _migration_files(service_dir: Path) -> list[tuple[str, Path]]:
    """Platform tables (outbox, inbox) first, then the service's own numbered files."""
    files = [(f"platform/{p.name}", p) for p in sorted(PLATFORM_MIGRATIONS.glob("*.sql"))]
    files += [(p.name, p) for p in sorted(service_dir.glob("*.sql"))]
    return files


async def migrate(dsn: str, service_dir: Path) -> list[str]:
    """Apply pending migrations, each in its own transaction; returns the versions applied.

    An advisory lock makes concurrent replicas wait instead of racing; a changed file that was
    already applied is an error, because the database would no longer match the code.
    """
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock(7340001)")
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")}
        for version, path in _migration_files(service_dir):
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if version in done:
                if done[version] != checksum:
                    raise RuntimeError(f"migration {version} changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", version, checksum
                )
            applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock(7340001)")
        await conn.close()
    return applied
