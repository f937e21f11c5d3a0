"""SQL for automation rules as sync-runner keeps them, and their executions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg

_EXEC = """id, rule_id, rule_version, org_id, entity_id, change_sha256, installation_id, action, input, status,
           attempts, run_id, next_attempt_at, vendor_id, vendor_status, error_class, error_message, created_at,
           updated_at"""


async def store_rule(conn: asyncpg.Connection | asyncpg.Pool, *, rule_id: uuid.UUID, org_id: uuid.UUID,
                     version: int, entity_type: str, active: bool, rule: dict[str, Any],
                     effective_from: datetime) -> bool:
    """False when a newer (or the same) version is already kept."""
    return await conn.fetchval(
        """INSERT INTO automation_rules (rule_id, org_id, version, entity_type, active, rule, effective_from)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (rule_id) DO UPDATE SET version = EXCLUDED.version, entity_type = EXCLUDED.entity_type,
                  active = EXCLUDED.active, rule = EXCLUDED.rule, effective_from = EXCLUDED.effective_from,
                  updated_at = now()
              WHERE automation_rules.version < EXCLUDED.version
           RETURNING true""", rule_id, org_id, version, entity_type, active, rule, effective_from) is not None


async def active_rules(conn: asyncpg.Connection | asyncpg.Pool, *, org_id: uuid.UUID,
                       entity_type: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT rule_id, version, rule, effective_from FROM automation_rules "
        "WHERE org_id = $1 AND entity_type = $2 AND active", org_id, entity_type)


async def target(conn: asyncpg.Connection, installation_id: uuid.UUID, org_id: uuid.UUID) -> asyncpg.Record | None:
    """The enabled installation a rule acts on, as the lifecycle topic last described it."""
    return await conn.fetchrow(
        """SELECT installation_id, org_id, integration_key, settings, credential_ref, config_version
           FROM sync_schedules WHERE installation_id = $1 AND org_id = $2 AND enabled""", installation_id, org_id)


async def integration_key(conn: asyncpg.Connection, installation_id: uuid.UUID) -> str | None:
    return await conn.fetchval("SELECT integration_key FROM sync_schedules WHERE installation_id = $1",
                               installation_id)


async def begin(conn: asyncpg.Connection, *, execution_id: uuid.UUID, rule_id: uuid.UUID, rule_version: int,
                org_id: uuid.UUID, entity_id: uuid.UUID, change_sha256: str, installation_id: uuid.UUID,
                action: str, input: dict[str, Any], run_id: uuid.UUID) -> bool:
    """False when this (rule, entity, change) already has an execution."""
    return await conn.fetchval(
        """INSERT INTO rule_executions (id, rule_id, rule_version, org_id, entity_id, change_sha256, installation_id,
                                        action, input, status, run_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'requested', $10)
           ON CONFLICT (rule_id, entity_id, change_sha256) DO NOTHING RETURNING true""",
        execution_id, rule_id, rule_version, org_id, entity_id, change_sha256, installation_id, action, input,
        run_id) is not None


async def settle(conn: asyncpg.Connection, *, execution_id: uuid.UUID, run_id: uuid.UUID, status: str,
                 next_attempt_at: datetime | None = None, vendor_id: str | None = None,
                 vendor_status: str | None = None, error_class: str | None = None,
                 error_message: str | None = None) -> asyncpg.Record | None:
    """The outcome of the execution's current attempt; None when ``run_id`` is not its current one."""
    return await conn.fetchrow(
        f"""UPDATE rule_executions SET status = $3, next_attempt_at = $4, vendor_id = $5, vendor_status = $6,
                   error_class = $7, error_message = $8, updated_at = now()
            WHERE id = $1 AND run_id = $2 AND status = 'requested' RETURNING {_EXEC}""",
        execution_id, run_id, status, next_attempt_at, vendor_id, vendor_status, error_class, error_message)


async def claim_due(conn: asyncpg.Connection, *, limit: int) -> list[asyncpg.Record]:
    """Executions due for another attempt, locked for this transaction (other replicas skip them)."""
    return await conn.fetch(
        f"""SELECT {_EXEC} FROM rule_executions WHERE status = 'retrying' AND next_attempt_at <= now()
            ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED""", limit)


async def next_attempt(conn: asyncpg.Connection, *, execution_id: uuid.UUID, run_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE rule_executions SET status = 'requested', attempts = attempts + 1, run_id = $2,
                  next_attempt_at = NULL, updated_at = now() WHERE id = $1""", execution_id, run_id)


async def dead(conn: asyncpg.Connection, *, execution_id: uuid.UUID, error_class: str, error_message: str) -> None:
    await conn.execute(
        """UPDATE rule_executions SET status = 'dead', error_class = $2, error_message = $3, next_attempt_at = NULL,
                  updated_at = now() WHERE id = $1""", execution_id, error_class, error_message)


async def retry(conn: asyncpg.Connection, *, org_id: uuid.UUID, rule_id: uuid.UUID,
                execution_id: uuid.UUID) -> asyncpg.Record | None:
    """A dead execution made due now (a person asked); None when it is not dead."""
    return await conn.fetchrow(
        f"""UPDATE rule_executions SET status = 'retrying', next_attempt_at = now(), updated_at = now()
            WHERE id = $1 AND org_id = $2 AND rule_id = $3 AND status = 'dead' RETURNING {_EXEC}""",
        execution_id, org_id, rule_id)


async def execution(conn: asyncpg.Connection | asyncpg.Pool, *, org_id: uuid.UUID, rule_id: uuid.UUID,
                    execution_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_EXEC} FROM rule_executions WHERE id = $1 AND org_id = $2 AND rule_id = $3",
                               execution_id, org_id, rule_id)


async def page(conn: asyncpg.Connection | asyncpg.Pool, *, org_id: uuid.UUID, rule_id: uuid.UUID,
               status: str | None, after: tuple[datetime, uuid.UUID] | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_EXEC} FROM rule_executions WHERE org_id = $1 AND rule_id = $2
              AND ($3::text IS NULL OR status = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
            ORDER BY created_at DESC, id DESC LIMIT $6""",
        org_id, rule_id, status, after[0] if after else None, after[1] if after else None, limit)


async def recent_entities(conn: asyncpg.Connection | asyncpg.Pool, *, org_id: uuid.UUID, entity_type: str,
                          limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT entity_id, event, updated_at FROM action_entities WHERE org_id = $1 AND entity_type = $2
           ORDER BY updated_at DESC LIMIT $3""", org_id, entity_type, limit)
