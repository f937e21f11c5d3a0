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
from aria_connectors.sdk.data_mappings import default_specs
from aria_connectors.sdk.manifest import Manifest
from aria_connectors.sdk.mapping import MODELS
from aria_contracts.events import InstallationMappingsChanged
from aria_platform.auth import Principal
from aria_platform.problems import Problem, not_found

from ..activity import repo as activity
from ..installations import repo as installations
from ..installations.service import announce, load_installation
from . import repo
from .defaults import seed_defaults

# Set by the platform on every entity; a mapping cannot write them.
RESERVED_FIELDS = frozenset({"entity_id", "org_id", "provenance", "attributes"})


def _validate(manifest: Manifest, mapping: dict[str, Any]) -> None:
    """What the request model cannot know: the connector's source types and the entity's fields."""
    errors = []
    sources = default_specs(manifest)
    if mapping["source_type"] not in sources:
        errors.append({"field": "source_type", "message": f"unknown source type; this integration has "
                                                          f"{sorted(sources)}"})
    model = MODELS.get(mapping["target_entity"])
    if model is None:
        errors.append({"field": "target_entity", "message": f"unknown target entity; one of {sorted(MODELS)}"})
    else:
        writable = set(model.model_fields) - RESERVED_FIELDS
        for name in mapping["field_mappings"]:
            if name not in writable:
                errors.append({"field": f"fields.{name}", "message": f"{mapping['target_entity']} has no writable "
                                                                     f"field {name!r}"})
        for i, rule in enumerate(mapping["transformation_rules"]):
            if rule["field"] not in writable:
                errors.append({"field": f"transformation_rules.{i}.field",
                               "message": f"{mapping['target_entity']} has no writable field {rule['field']!r}"})
    if errors:
        raise Problem(422, "mapping_invalid", "Mapping is invalid", "the mapping does not fit this integration",
                      errors=errors)


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


def validate_set(integration_key: str, mappings: list[dict[str, Any]]) -> None:
    """An unsaved set (the preview of an edited mapping) checked like a saved one."""
    manifest = registry.get(integration_key).manifest
    for mapping in mappings:
        _validate(manifest, mapping)


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
