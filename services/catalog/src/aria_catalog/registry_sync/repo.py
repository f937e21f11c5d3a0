"""SQL for the registry sync: catalog rows keyed by connector key, and their change history."""

from __future__ import annotations

import asyncpg

SYNC_LOCK = 7340101  # one sync at a time across replicas

_ENTRY_COLUMNS = (
    "name", "vendor", "product", "category", "description", "logo_url", "documentation_url", "support_url",
    "version", "pricing_model", "is_official", "is_community", "is_beta", "is_deprecated", "license_required",
    "minimum_platform_version", "capabilities", "data_types", "auth_methods", "streams", "config_schema",
    "secret_fields", "supports_webhooks", "api_rate_limits", "installation_complexity", "quality_tier",
    "quality_criteria", "key_features", "required_permissions", "setup_minutes", "push_actions",
)


async def lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", SYNC_LOCK)


async def current_state(conn: asyncpg.Connection) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT key, version, entry_hash, removed_at, is_deprecated FROM integration_catalog")
    return {r["key"]: r for r in rows}


async def insert_entry(conn: asyncpg.Connection, entry: dict, entry_hash: str) -> None:
    cols = ("key",) + _ENTRY_COLUMNS
    placeholders = ", ".join(f"${i}" for i in range(1, len(cols) + 2))
    # install_count starts from the ledger: events may have arrived before the connector was catalogued.
    await conn.execute(
        f"""INSERT INTO integration_catalog ({", ".join(cols)}, entry_hash, install_count)
            SELECT {placeholders}, (SELECT count(*) FROM catalog_installations
                                    WHERE integration_key = $1 AND installed)""",
        *(entry[c] for c in cols), entry_hash,
    )


async def update_entry(conn: asyncpg.Connection, entry: dict, entry_hash: str) -> None:
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(_ENTRY_COLUMNS, start=2))
    n = len(_ENTRY_COLUMNS) + 2
    await conn.execute(
        f"""UPDATE integration_catalog SET {sets}, entry_hash = ${n}, removed_at = NULL,
                   last_updated = now(), updated_at = now()
            WHERE key = $1""",
        entry["key"], *(entry[c] for c in _ENTRY_COLUMNS), entry_hash,
    )


async def mark_removed(conn: asyncpg.Connection, key: str) -> None:
    await conn.execute(
        """UPDATE integration_catalog SET is_deprecated = true, removed_at = now(), last_updated = now(),
                  updated_at = now()
           WHERE key = $1""", key)


async def record_change(conn: asyncpg.Connection, *, key: str, change: str, version: str,
                        previous_version: str | None, entry_hash: str) -> int:
    """Adds a history row; returns its id."""
    return await conn.fetchval(
        """INSERT INTO catalog_versions (integration_key, change, version, previous_version, entry_hash)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""", key, change, version, previous_version, entry_hash)


async def refresh_vocabulary(conn: asyncpg.Connection) -> None:
    await conn.execute("REFRESH MATERIALIZED VIEW catalog_vocabulary")


async def history(conn: asyncpg.Connection | asyncpg.Pool, key: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT change, version, previous_version, recorded_at FROM catalog_versions
           WHERE integration_key = $1 ORDER BY id""", key)
