"""What a data mapping must satisfy beyond its request model: the connector's source types and the
target entity's writable fields. No installation state here, so the installation lifecycle (the
preview of an unsaved set) and the mappings feature both use it."""

from __future__ import annotations

from typing import Any

from aria_connectors import registry
from aria_connectors.sdk.data_mappings import default_specs
from aria_connectors.sdk.manifest import Manifest
from aria_connectors.sdk.mapping import MODELS
from aria_platform.problems import Problem

# Set by the platform on every entity; a mapping cannot write them.
RESERVED_FIELDS = frozenset({"entity_id", "org_id", "provenance", "attributes"})


def validate(manifest: Manifest, mapping: dict[str, Any]) -> None:
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


def validate_set(integration_key: str, mappings: list[dict[str, Any]]) -> None:
    """An unsaved set (the preview of an edited mapping) checked like a saved one."""
    manifest = registry.get(integration_key).manifest
    for mapping in mappings:
        validate(manifest, mapping)
