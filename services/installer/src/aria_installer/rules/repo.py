"""SQL for automation rules, their versions and their audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

_COLS = """id, org_id, name, description, enabled, version, trigger, action, created_by, updated_by, created_at,
           updated_at, deleted_at"""


async def insert(conn: asyncpg.Connection, *, rule_id: uuid.UUID, org_id: uuid.UUID, name: str,
                 description: str | None, enabled: bool, trigger: dict[str, Any], action: dict[str, Any],
                 actor: str) -> asyncpg.Record | None:
    """The new rule (version 1), or None when the id exists (a conversion that already ran)."""
    return await conn.fetchrow(
        f"""INSERT INTO automation_rules (id, org_id, name, description, enabled, version, trigger, action,
                                          target_installation_id, created_by, updated_by)
            VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $9, $9) ON CONFLICT (id) DO NOTHING RETURNING {_COLS}""",
        rule_id, org_id, name, description, enabled, trigger, action, uuid.UUID(str(action["installation_id"])),
        actor)


async def update(conn: asyncpg.Connection, *, rule_id: uuid.UUID, name: str, description: str | None,
                 enabled: bool, trigger: dict[str, Any], action: dict[str, Any], actor: str,
                 deleted: bool = False) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE automation_rules SET name = $2, description = $3, enabled = $4, trigger = $5, action = $6,
                   target_installation_id = $7, version = version + 1, updated_by = $8, updated_at = now(),
                   deleted_at = CASE WHEN $9 THEN now() END
            WHERE id = $1 RETURNING {_COLS}""",
        rule_id, name, description, enabled, trigger, action, uuid.UUID(str(action["installation_id"])), actor,
        deleted)


async def add_version(conn: asyncpg.Connection, row: asyncpg.Record, *, change: str) -> None:
    await conn.execute(
        """INSERT INTO automation_rule_versions (rule_id, version, change, name, description, enabled, trigger,
                                                 action, changed_by, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        row["id"], row["version"], change, row["name"], row["description"], row["enabled"], row["trigger"],
        row["action"], row["updated_by"], row["updated_at"])


async def audit(conn: asyncpg.Connection, *, rule_id: uuid.UUID, org_id: uuid.UUID, actor: str, event: str,
                version: int, details: dict[str, Any] | None = None) -> None:
    await conn.execute(
        """INSERT INTO automation_rule_audit (rule_id, org_id, actor, event, version, details)
           VALUES ($1, $2, $3, $4, $5, $6)""", rule_id, org_id, actor, event, version, details or {})


async def get(conn, *, org_id: uuid.UUID, rule_id: uuid.UUID, for_update: bool = False) -> asyncpg.Record | None:
    """A live rule of the organization (another organization's or a deleted one reads as missing)."""
    return await conn.fetchrow(
        f"SELECT {_COLS} FROM automation_rules WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL"
        + (" FOR UPDATE" if for_update else ""), rule_id, org_id)


async def exists(conn, *, org_id: uuid.UUID, rule_id: uuid.UUID) -> bool:
    """Deleted ones too: their history stays readable."""
    return bool(await conn.fetchval("SELECT true FROM automation_rules WHERE id = $1 AND org_id = $2",
                                    rule_id, org_id))


async def page(conn, *, org_id: uuid.UUID, after: tuple[datetime, uuid.UUID] | None,
               limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLS} FROM automation_rules WHERE org_id = $1 AND deleted_at IS NULL
              AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
            ORDER BY created_at DESC, id DESC LIMIT $4""",
        org_id, after[0] if after else None, after[1] if after else None, limit)


async def versions(conn, *, rule_id: uuid.UUID, before: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM automation_rule_versions WHERE rule_id = $1 AND ($2::int IS NULL OR version < $2)
           ORDER BY version DESC LIMIT $3""", rule_id, before, limit)


async def audit_page(conn, *, rule_id: uuid.UUID, before: int | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, actor, event, version, details, created_at FROM automation_rule_audit
           WHERE rule_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3""",
        rule_id, before, limit)


async def push_settings(conn) -> list[asyncpg.Record]:
    """Live installations whose current configuration still carries the retired push_min_severity."""
    return await conn.fetch(
        """SELECT i.id, i.org_id, i.integration_key, c.settings->>'push_min_severity' AS min_severity
           FROM integration_installations i
           JOIN LATERAL (SELECT settings FROM integration_configurations c WHERE c.installation_id = i.id
                         ORDER BY c.version DESC LIMIT 1) c ON true
           WHERE i.uninstalled_at IS NULL AND c.settings ? 'push_min_severity'""")
