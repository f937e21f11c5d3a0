"""SQL for installations and their configuration versions."""

from __future__ import annotations

import uuid

import asyncpg

_COLS = """i.id, i.org_id, i.integration_key, i.status, i.revision, i.sync_frequency, i.auto_sync, i.health_status,
           i.last_sync_at, i.last_sync_status, i.error_count, i.last_error, i.installed_by, i.created_at,
           i.updated_at, i.records_synced, i.demo, c.version AS config_version, c.settings, c.secret_fields, c.config_hash, c.credential_ref,
           w.credential_ref AS webhook_credential_ref"""
_FROM = """integration_installations i
           LEFT JOIN LATERAL (SELECT * FROM integration_configurations c WHERE c.installation_id = i.id
                              ORDER BY c.version DESC LIMIT 1) c ON true
           LEFT JOIN integration_webhooks w ON w.installation_id = i.id"""


async def insert_installation(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                              integration_key: str, installed_by: str, demo: bool = False) -> bool:
    """False when the organization already has a live installation (or demo) of this integration."""
    row = await conn.fetchval(
        """INSERT INTO integration_installations (id, org_id, integration_key, status, installed_by, demo)
           VALUES ($1, $2, $3, 'configuring', $4, $5) ON CONFLICT DO NOTHING RETURNING 1""",
        installation_id, org_id, integration_key, installed_by, demo)
    return row is not None


async def live_installation_of(conn, *, org_id: uuid.UUID, integration_key: str,
                               demo: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {_COLS} FROM {_FROM} WHERE i.org_id = $1 AND i.integration_key = $2 AND i.demo = $3
              AND i.uninstalled_at IS NULL""",
        org_id, integration_key, demo)


async def get(conn, *, org_id: uuid.UUID, installation_id: uuid.UUID, for_update: bool = False) -> asyncpg.Record | None:
    """Scoped to the organization: another org's installation reads as missing."""
    if for_update:
        await conn.execute("SELECT 1 FROM integration_installations WHERE id = $1 AND org_id = $2 FOR UPDATE",
                           installation_id, org_id)
    return await conn.fetchrow(
        f"SELECT {_COLS} FROM {_FROM} WHERE i.id = $1 AND i.org_id = $2 AND i.uninstalled_at IS NULL",
        installation_id, org_id)


async def get_any_org(conn, installation_id: uuid.UUID) -> asyncpg.Record | None:
    """For event consumers, which act on behalf of the platform rather than a user."""
    return await conn.fetchrow(f"SELECT {_COLS} FROM {_FROM} WHERE i.id = $1", installation_id)


async def list_for_org(conn, *, org_id: uuid.UUID, after: tuple | None, limit: int,
                       statuses: list[str] | None = None) -> list[asyncpg.Record]:
    if after is None:
        return await conn.fetch(
            f"""SELECT {_COLS} FROM {_FROM} WHERE i.org_id = $1 AND i.uninstalled_at IS NULL
                  AND ($3::text[] IS NULL OR i.status = ANY($3::text[]))
                ORDER BY i.created_at DESC, i.id DESC LIMIT $2""", org_id, limit, statuses)
    return await conn.fetch(
        f"""SELECT {_COLS} FROM {_FROM} WHERE i.org_id = $1 AND i.uninstalled_at IS NULL
              AND (i.created_at, i.id) < ($2, $3) AND ($5::text[] IS NULL OR i.status = ANY($5::text[]))
            ORDER BY i.created_at DESC, i.id DESC LIMIT $4""", org_id, after[0], after[1], limit, statuses)


async def set_state(conn, *, installation_id: uuid.UUID, status: str, **fields) -> int:
    """Change status (and optional columns), bump the revision; returns the new revision."""
    sets = ", ".join(f"{name} = ${i}" for i, name in enumerate(fields, start=3))
    return await conn.fetchval(
        f"""UPDATE integration_installations SET status = $2, revision = revision + 1, updated_at = now()
            {', ' + sets if sets else ''} WHERE id = $1 RETURNING revision""",
        installation_id, status, *fields.values())


async def bump_revision(conn, *, installation_id: uuid.UUID) -> int:
    """A new revision for a change that leaves the state as it is (e.g. data mappings); returns it."""
    return await conn.fetchval(
        """UPDATE integration_installations SET revision = revision + 1, updated_at = now()
           WHERE id = $1 RETURNING revision""", installation_id)


async def mark_uninstalled(conn, *, installation_id: uuid.UUID) -> int:
    return await conn.fetchval(
        """UPDATE integration_installations SET uninstalled_at = now(), revision = revision + 1, updated_at = now()
           WHERE id = $1 RETURNING revision""", installation_id)


async def insert_configuration(conn, *, installation_id: uuid.UUID, settings: dict, secret_fields: list[str],
                               config_hash: str, credential_ref: uuid.UUID | None, created_by: str) -> int:
    return await conn.fetchval(
        """INSERT INTO integration_configurations
               (installation_id, version, settings, secret_fields, config_hash, credential_ref, created_by)
           VALUES ($1, coalesce((SELECT max(version) FROM integration_configurations WHERE installation_id = $1), 0) + 1,
                   $2, $3, $4, $5, $6)
           RETURNING version""",
        installation_id, settings, secret_fields, config_hash, credential_ref, created_by)


async def record_sync_outcome(conn, *, installation_id: uuid.UUID, ok: bool, error: str | None) -> None:
    await conn.execute(
        """UPDATE integration_installations
           SET last_sync_at = now(), last_sync_status = CASE WHEN $2 THEN 'completed' ELSE 'failed' END,
               error_count = error_count + CASE WHEN $2 THEN 0 ELSE 1 END,
               last_error = CASE WHEN $2 THEN last_error ELSE $3 END,
               health_status = CASE WHEN $2 THEN 'healthy' ELSE health_status END,
               -- A failed sync (after sync-runner's retries) puts a running installation in error;
               -- the next successful one (the schedule keeps trying) brings it back.
               status = CASE WHEN NOT $2 AND status = 'enabled' THEN 'error'
                             WHEN $2 AND status = 'error' THEN 'enabled' ELSE status END,
               updated_at = now()
           WHERE id = $1""", installation_id, ok, error)


async def add_records_synced(conn, *, installation_id: uuid.UUID, entity_counts: dict[str, int]) -> None:
    """Add a job's events per entity type to the installation's totals."""
    if not entity_counts:
        return
    await conn.execute(
        """UPDATE integration_installations
           SET records_synced = (SELECT coalesce(jsonb_object_agg(key, total), '{}'::jsonb)
                                 FROM (SELECT key, sum(value::bigint) AS total
                                       FROM (SELECT * FROM jsonb_each_text(records_synced)
                                             UNION ALL SELECT * FROM jsonb_each_text($2::jsonb)) AS both_counts
                                       GROUP BY key) AS summed)
           WHERE id = $1""", installation_id, entity_counts)


async def record_health(conn, *, installation_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE integration_installations SET health_status = $2, updated_at = now() WHERE id = $1",
                       installation_id, status)


async def idempotent_response(conn, *, org_id: uuid.UUID, key: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT request_hash, status_code, response FROM idempotency_keys WHERE org_id = $1 AND key = $2",
                               org_id, key)


async def remember_response(conn, *, org_id: uuid.UUID, key: str, request_hash: str, status_code: int,
                            response: dict) -> None:
    await conn.execute(
        """INSERT INTO idempotency_keys (org_id, key, request_hash, status_code, response)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""", org_id, key, request_hash, status_code, response)
