"""SQL for webhook_endpoints: which installations accept webhooks, with what credential."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

# Every applied change of an endpoint is announced here (payload: the installation id), so each
# process can drop its cached copy (service.LiveEndpoints).
CHANGES_CHANNEL = "aria_webhook_endpoints"
_COLUMNS = ("installation_id, org_id, integration_key, credential_ref, webhook_credential_ref, settings, live, "
            "revision, mappings, updated_at")


async def apply_revision(conn: asyncpg.Connection | asyncpg.Pool, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                         integration_key: str, revision: int, live: bool | None, config: bool,
                         credential_ref: str | None, webhook_credential_ref: str | None,
                         settings: dict[str, Any]) -> bool:
    """Upsert the endpoint if `revision` is newer than the stored one; True when applied.

    `live=None` keeps the stored liveness (a new row starts not live); `config=False` keeps the
    stored credential references and settings. Older or equal revisions change nothing, so
    redelivered and reordered events are harmless. An applied change is NOTIFYed on
    CHANGES_CHANNEL in the same statement, so listeners hear of it exactly when it commits.
    """
    applied = await conn.fetchval(
        f"""WITH applied AS (
            INSERT INTO webhook_endpoints
               (installation_id, org_id, integration_key, credential_ref, settings, live, revision,
                webhook_credential_ref)
            VALUES ($1, $2, $3, $4, $5, coalesce($6::boolean, false), $7, $9)
            ON CONFLICT (installation_id) DO UPDATE
               SET org_id = EXCLUDED.org_id, integration_key = EXCLUDED.integration_key,
                   credential_ref = CASE WHEN $8 THEN EXCLUDED.credential_ref
                                         ELSE webhook_endpoints.credential_ref END,
                   webhook_credential_ref = CASE WHEN $8 THEN EXCLUDED.webhook_credential_ref
                                                 ELSE webhook_endpoints.webhook_credential_ref END,
                   settings = CASE WHEN $8 THEN EXCLUDED.settings ELSE webhook_endpoints.settings END,
                   live = coalesce($6::boolean, webhook_endpoints.live),
                   revision = EXCLUDED.revision, updated_at = now()
             WHERE webhook_endpoints.revision < EXCLUDED.revision
            RETURNING installation_id)
            SELECT true FROM applied, pg_notify('{CHANGES_CHANNEL}', applied.installation_id::text)""",
        installation_id, org_id, integration_key, credential_ref, settings, live, revision, config,
        webhook_credential_ref,
    )
    return applied is not None


async def set_mappings(conn: asyncpg.Connection | asyncpg.Pool, *, installation_id: uuid.UUID, org_id: uuid.UUID,
                       integration_key: str, revision: int, mappings: list[dict[str, Any]]) -> bool:
    """The installation's new data mappings; False if a newer set is stored. A row made here is not
    live and at revision 0 until its lifecycle events arrive. NOTIFYed like apply_revision."""
    return await conn.fetchval(
        f"""WITH applied AS (
            INSERT INTO webhook_endpoints (installation_id, org_id, integration_key, live, revision, mappings,
                                           mappings_revision)
            VALUES ($1, $2, $3, false, 0, $4, $5)
            ON CONFLICT (installation_id) DO UPDATE
               SET mappings = EXCLUDED.mappings, mappings_revision = EXCLUDED.mappings_revision, updated_at = now()
               WHERE webhook_endpoints.mappings_revision < EXCLUDED.mappings_revision
            RETURNING installation_id)
            SELECT true FROM applied, pg_notify('{CHANGES_CHANNEL}', applied.installation_id::text)""",
        installation_id, org_id, integration_key, mappings, revision) is not None


async def get_endpoint(conn: asyncpg.Connection | asyncpg.Pool, installation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_COLUMNS} FROM webhook_endpoints WHERE installation_id = $1",
                               installation_id)
