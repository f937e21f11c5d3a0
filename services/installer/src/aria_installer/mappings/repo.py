"""SQL for integration_data_mappings."""

from __future__ import annotations

import uuid

import asyncpg

_COLS = """id, installation_id, source_type, target_entity, external_id, field_mappings, attributes,
           transformation_rules, filter_rules, priority, active, origin, created_by, created_at, updated_at"""
# The columns a caller supplies, in insert/update parameter order.
_VALUES = ("source_type", "target_entity", "external_id", "field_mappings", "attributes", "transformation_rules",
           "filter_rules", "priority", "active")


async def insert(conn: asyncpg.Connection, *, installation_id: uuid.UUID, org_id: uuid.UUID, origin: str,
                 created_by: str, mapping: dict) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO integration_data_mappings
               (id, installation_id, org_id, origin, created_by, {', '.join(_VALUES)})
            VALUES ($1, $2, $3, $4, $5, {', '.join(f'${i}' for i in range(6, 6 + len(_VALUES)))})
            RETURNING {_COLS}""",
        uuid.uuid4(), installation_id, org_id, origin, created_by, *(mapping[k] for k in _VALUES))


async def update(conn: asyncpg.Connection, *, installation_id: uuid.UUID, mapping_id: uuid.UUID,
                 mapping: dict) -> asyncpg.Record | None:
    sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(_VALUES, start=3))
    return await conn.fetchrow(
        f"""UPDATE integration_data_mappings SET {sets}, origin = 'custom', updated_at = now()
            WHERE id = $1 AND installation_id = $2 RETURNING {_COLS}""",
        mapping_id, installation_id, *(mapping[k] for k in _VALUES))


async def list_for(conn: asyncpg.Connection, *, installation_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_COLS} FROM integration_data_mappings WHERE installation_id = $1
            ORDER BY source_type, priority DESC, created_at, id""", installation_id)


async def snapshot(conn: asyncpg.Connection, *, installation_id: uuid.UUID) -> list[dict]:
    """The installation's set as consumers get it (installation.mappings_changed, preview): without who and when."""
    rows = await conn.fetch(
        """SELECT source_type, target_entity, external_id, field_mappings, attributes, transformation_rules,
                  filter_rules, priority, active, origin
           FROM integration_data_mappings WHERE installation_id = $1
           ORDER BY source_type, priority DESC, created_at, id""", installation_id)
    return [dict(r) for r in rows]


async def get(conn: asyncpg.Connection, *, installation_id: uuid.UUID, mapping_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_COLS} FROM integration_data_mappings WHERE id = $1 AND installation_id = $2",
        mapping_id, installation_id)


async def delete(conn: asyncpg.Connection, *, installation_id: uuid.UUID, mapping_id: uuid.UUID) -> bool:
    result = await conn.execute("DELETE FROM integration_data_mappings WHERE id = $1 AND installation_id = $2",
                                mapping_id, installation_id)
    return result != "DELETE 0"


async def delete_all(conn: asyncpg.Connection, *, installation_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM integration_data_mappings WHERE installation_id = $1", installation_id)
