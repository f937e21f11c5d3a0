"""The connector's default mappings: a new installation starts from its manifest's stream mappings.

A mapping says how one source record type becomes one contract entity: the connector's streams
(e.g. CrowdStrike `alerts`) and its webhook payload types (`webhook.<type>`) are the source types
(aria_connectors.sdk.data_mappings has the semantics).
"""

from __future__ import annotations

from typing import Any

import asyncpg

from aria_connectors import registry
from aria_connectors.sdk.data_mappings import default_specs
from aria_connectors.sdk.manifest import FieldSpec, Manifest

from . import repo


def field_mappings(fields: dict[str, FieldSpec | str]) -> dict[str, Any]:
    """JSON of field specs, as stored: only what was set, so a spec reads like the manifest's."""
    return {k: v if isinstance(v, str) else v.model_dump(mode="json", exclude_defaults=True) for k, v in fields.items()}


def default_mappings(manifest: Manifest) -> list[dict[str, Any]]:
    return [{"source_type": source, "target_entity": spec.entity, "external_id": spec.external_id,
             "field_mappings": field_mappings(spec.fields),
             "attributes": dict(spec.attributes), "transformation_rules": [], "filter_rules": [],
             "priority": 100, "active": True}
            for source, spec in default_specs(manifest).items()]


async def seed_defaults(conn: asyncpg.Connection, *, installation: asyncpg.Record, actor: str) -> int:
    """The connector's default mappings for a new (or reset) installation."""
    defaults = default_mappings(registry.get(installation["integration_key"]).manifest)
    for mapping in defaults:
        await repo.insert(conn, installation_id=installation["id"], org_id=installation["org_id"],
                          origin="connector", created_by=actor, mapping=mapping)
    return len(defaults)
