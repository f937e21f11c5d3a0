"""Data mappings of an installation: seeded from the connector's manifest, then edited by admins.

Every change is validated against the connector (source types) and the contract (target entity
and its fields), written to the activity log, and announced with the installation's whole new set
(``installation.mappings_changed``, through the outbox in the same transaction, under a new
installation revision): sync-runner and webhook-ingest apply the set when they map records.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from aria_connectors import registry
from aria_contracts.events import InstallationMappingsChanged
from aria_platform.auth import Principal
from aria_platform.problems import not_found

from ..activity import repo as activity
from ..installations import repo as installations
from ..installations.service import announce, load_installation
from . import repo
from .defaults import seed_defaults
from .rules import validate as _validate


async def _changed(conn, *, principal: Principal, installation: asyncpg.Record, message: str, details: dict) -> None:
    """The activity-log line and the announcement of the new set, in the caller's transaction."""
    await activity.add(conn, installation_id=installation["id"], org_id=principal.org_id, activity_type="mapping",
                       status="success", actor=principal.subject, message=message, details=details)
    revision = await installations.bump_revision(conn, installation_id=installation["id"])
    await announce(conn, InstallationMappingsChanged(
        installation_id=installation["id"], org_id=installation["org_id"],
        integration_key=installation["integration_key"], revision=revision, actor=principal.subject,
        mappings=await repo.snapshot(conn, installation_id=installation["id"])))


async def list_mappings(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        await load_installation(conn, principal=principal, installation_id=installation_id)
        return await repo.list_for(conn, installation_id=installation_id)


async def get_mapping(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                      mapping_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        await load_installation(conn, principal=principal, installation_id=installation_id)
        row = await repo.get(conn, installation_id=installation_id, mapping_id=mapping_id)
    if row is None:
        raise not_found("mapping")
    return row


async def create_mapping(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                         mapping: dict[str, Any]) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        installation = await load_installation(conn, principal=principal, installation_id=installation_id,
                                               for_update=True)
        _validate(registry.get(installation["integration_key"]).manifest, mapping)
        row = await repo.insert(conn, installation_id=installation_id, org_id=principal.org_id, origin="custom",
                                created_by=principal.subject, mapping=mapping)
        await _changed(conn, principal=principal, installation=installation,
                       message=f"mapping {mapping['source_type']} -> {mapping['target_entity']} created",
                   details={"mapping_id": str(row["id"]), "action": "create"})
        return row


async def update_mapping(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                         mapping_id: uuid.UUID, mapping: dict[str, Any]) -> asyncpg.Record:
    async with pool.acquire() as conn, conn.transaction():
        installation = await load_installation(conn, principal=principal, installation_id=installation_id,
                                               for_update=True)
        _validate(registry.get(installation["integration_key"]).manifest, mapping)
        row = await repo.update(conn, installation_id=installation_id, mapping_id=mapping_id, mapping=mapping)
        if row is None:
            raise not_found("mapping")
        await _changed(conn, principal=principal, installation=installation,
                       message=f"mapping {mapping['source_type']} -> {mapping['target_entity']} updated",
                   details={"mapping_id": str(mapping_id), "action": "update"})
        return row


async def delete_mapping(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                         mapping_id: uuid.UUID) -> None:
    async with pool.acquire() as conn, conn.transaction():
        installation = await load_installation(conn, principal=principal, installation_id=installation_id,
                                               for_update=True)
        if not await repo.delete(conn, installation_id=installation_id, mapping_id=mapping_id):
            raise not_found("mapping")
        await _changed(conn, principal=principal, installation=installation, message="mapping deleted",
                       details={"mapping_id": str(mapping_id), "action": "delete"})


async def reset_mappings(*, pool: asyncpg.Pool, principal: Principal,
                         installation_id: uuid.UUID) -> list[asyncpg.Record]:
    """Back to the connector's default mappings; custom ones are removed."""
    async with pool.acquire() as conn, conn.transaction():
        installation = await load_installation(conn, principal=principal, installation_id=installation_id,
                                               for_update=True)
        await repo.delete_all(conn, installation_id=installation_id)
        count = await seed_defaults(conn, installation=installation, actor=principal.subject)
        await _changed(conn, principal=principal, installation=installation,
                       message=f"mappings reset to the connector's {count} defaults", details={"action": "reset"})
        return await repo.list_for(conn, installation_id=installation_id)
