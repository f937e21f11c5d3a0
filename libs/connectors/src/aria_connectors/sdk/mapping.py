"""Vendor record -> contract event, driven by a MappingSpec."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime, timezone
from typing import Any, Callable

from aria_contracts.events import DOMAIN_MODELS, DomainEntity, Provenance
from aria_contracts.ids import entity_id
from pydantic import ValidationError

from ..errors import MappingError
from .manifest import FieldSpec, MappingSpec
from .paths import get_path

MODELS: dict[str, type[DomainEntity]] = {m.entity_type: m for m in DOMAIN_MODELS}


def canonical_json(record: Any) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"))


def raw_sha256(record: Any) -> str:
    return hashlib.sha256(canonical_json(record).encode()).hexdigest()


def external_id_of(record: Any, spec: MappingSpec) -> str | None:
    value = get_path(record, spec.external_id) if isinstance(record, dict) else None
    if value is None or isinstance(value, (dict, list)) or value == "":
        return None
    return str(value)


def _field_value(record: dict[str, Any], name: str, spec: FieldSpec | str) -> Any:
    if isinstance(spec, str):
        return get_path(record, spec)
    if spec.const is not None:
        value: Any = spec.const
    elif spec.paths is not None:
        value = []
        for p in spec.paths:
            v = get_path(record, p)
            if v is None or v == "":
                continue
            value.extend(v if isinstance(v, list) else [v])
    elif spec.coalesce is not None:
        value = next((v for v in (get_path(record, p) for p in spec.coalesce) if v not in (None, "", [])), None)
    else:
        value = get_path(record, spec.path) if spec.path is not None else None
    if value is None or value == "":
        value = spec.default
    if value is None:
        return None
    if spec.lower and isinstance(value, str):
        value = value.lower()
    if spec.map is not None:
        key = str(value)
        if key in spec.map:
            value = spec.map[key]
        elif spec.map_default is not None:
            value = spec.map_default
        else:
            raise MappingError(f"field {name!r}: value not in map")
    if spec.as_list and not isinstance(value, list):
        value = [value]
    return value


def map_record(
    record: Any,
    spec: MappingSpec,
    *,
    org_id: uuid.UUID,
    integration_key: str,
    installation_id: uuid.UUID,
    connector_version: str,
    stream: str,
    sync_job_id: uuid.UUID | None = None,
    webhook_delivery_id: str | None = None,
    cursor_from: str | None = None,
    cursor_to: str | None = None,
    raw: Any = None,
    transform: Callable[[dict[str, Any]], None] | None = None,
) -> DomainEntity:
    """Build the contract event; raises MappingError with a reason free of record values.
    ``raw`` is the record as the vendor sent it (before ``transform_record``), hashed into the
    provenance; None hashes ``record`` itself. ``transform`` edits the mapped field values in place
    before the contract checks them (an installation's transformation rules)."""
    if not isinstance(record, dict):
        raise MappingError("record is not a JSON object")
    ext = external_id_of(record, spec)
    if ext is None:
        raise MappingError(f"missing external id at {spec.external_id!r}")
    model = MODELS[spec.entity]
    values: dict[str, Any] = {}
    for name, fspec in spec.fields.items():
        if name not in model.model_fields:
            raise MappingError(f"{model.__name__} has no field {name!r}")
        v = _field_value(record, name, fspec)
        if v is not None:
            values[name] = v
    if transform is not None:
        transform(values)
    attributes = {}
    for attr, path in spec.attributes.items():
        v = get_path(record, path)
        if v is not None:
            attributes[attr] = v
    provenance = Provenance(
        installation_id=installation_id,
        integration_key=integration_key,
        connector_version=connector_version,
        stream=stream,
        external_id=ext,
        raw_sha256=raw_sha256(record if raw is None else raw),
        sync_job_id=sync_job_id,
        webhook_delivery_id=webhook_delivery_id,
        cursor_from=cursor_from,
        cursor_to=cursor_to,
    )
    try:
        return model(
            entity_id=entity_id(org_id=org_id, integration_key=integration_key,
                                entity_type=model.entity_type, external_id=ext),
            org_id=org_id,
            provenance=provenance,
            attributes=attributes,
            **values,
        )
    except ValidationError as exc:
        problems = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['type']}" for e in exc.errors()[:5])
        raise MappingError(f"{model.__name__} validation failed ({problems})") from None


# --- cursor comparison ---------------------------------------------------------------------

_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def cursor_key(value: Any, cursor_type: str) -> Any:
    """A sortable key for a cursor value; ISO timestamps keep nanosecond fractions."""
    if value is None:
        raise MappingError("cursor value missing")
    if cursor_type == "number":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise MappingError("cursor value is not a number") from None
    if cursor_type == "datetime":
        if isinstance(value, (int, float)):
            return (datetime.fromtimestamp(float(value), timezone.utc).replace(microsecond=0), 0)
        m = _ISO.match(str(value))
        if not m:
            raise MappingError("cursor value is not an ISO-8601 timestamp")
        base, frac, tz = m.groups()
        tz = tz or "Z"
        if tz == "Z":
            tz = "+00:00"
        elif ":" not in tz:
            tz = tz[:3] + ":" + tz[3:]
        dt = datetime.fromisoformat(base.replace(" ", "T") + tz).astimezone(timezone.utc)
        return (dt, int((frac or "0")[:9].ljust(9, "0")))
    return str(value)
