"""An installation's data mappings: the user's override of the connector's default mappings.

A data mapping says how one source type (a stream such as CrowdStrike ``alerts``, or a webhook
payload type ``webhook.<type>``) becomes one contract entity. It has the shape of a manifest
mapping (external id, field specs, attributes) plus filter rules on the vendor record, ANDed
(a record is kept when every rule holds), and transformation rules that run in order on the
mapped target fields. The installer stores and validates them; sync-runner and webhook-ingest
get the installation's whole set in ``installation.mappings_changed`` and hand it to the
connector instance (``RuntimeOptions.mappings``).

How a set applies to one record of a source type: per target entity, the active mappings are
tried by priority (highest first) and the first whose filters keep the record maps it, so a
narrow high-priority mapping can sit in front of a broad fallback; different target entities
each get their event. A source type with no active mapping yields nothing. A mapping whose
origin is ``connector`` (an unchanged default) follows the connector's current manifest, so a
connector upgrade reaches installations that never edited it.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigurationError
from .manifest import ExternalId, FieldSpec, Manifest, MappingSpec
from .mapping import CompiledMapping
from .paths import getter

Scalar = str | int | float | bool
WEBHOOK_PREFIX = "webhook."


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc.msg})") from None
    return pattern


# --- transformations: on a target field, after mapping ------------------------------------------


class CaseRule(_Rule):
    field: str = Field(min_length=1, max_length=64, description="Target field.")
    op: Literal["lower", "upper", "trim"]

    def apply(self, value: str) -> str:
        return value.lower() if self.op == "lower" else value.upper() if self.op == "upper" else value.strip()


class AffixRule(_Rule):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["prefix", "suffix"]
    value: str = Field(min_length=1, max_length=200)

    def apply(self, value: str) -> str:
        return self.value + value if self.op == "prefix" else value + self.value


class ReplaceRule(_Rule):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["replace"]
    pattern: str = Field(min_length=1, max_length=200, description="Regular expression.")
    value: str = Field(max_length=200, description="Replacement (\\1 refers to a group).")

    _valid = field_validator("pattern")(_check_regex)

    def apply(self, value: str) -> str:
        return re.sub(self.pattern, self.value, value)


class TruncateRule(_Rule):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["truncate"]
    length: int = Field(ge=1, le=10_000)

    def apply(self, value: str) -> str:
        return value[:self.length]


TransformRule = Annotated[CaseRule | AffixRule | ReplaceRule | TruncateRule, Field(discriminator="op")]


# --- filters: on the vendor record, before mapping ----------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same(a: Any, b: Scalar) -> bool:
    """Vendors send numbers as strings and back: '50' equals 50, 'true' equals True."""
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    na, nb = _number(a), _number(b)
    return na == nb if na is not None and nb is not None else str(a) == str(b)


class PresenceFilter(_Rule):
    path: str = Field(min_length=1, max_length=200, description="Vendor record path, e.g. 'device.platform_name'.")
    op: Literal["exists", "missing"]

    def holds(self, value: Any) -> bool:
        present = value not in (None, "", [])
        return present if self.op == "exists" else not present


class CompareFilter(_Rule):
    path: str = Field(min_length=1, max_length=200)
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte"]
    value: Scalar

    def holds(self, value: Any) -> bool:
        if self.op in ("eq", "ne"):
            equal = value is not None and _same(value, self.value)
            return equal if self.op == "eq" else not equal
        if value is None:
            return False
        a, b = _number(value), _number(self.value)
        # numbers compare as numbers; anything else as text (ISO timestamps sort as text)
        left, right = (a, b) if a is not None and b is not None else (str(value), str(self.value))
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[self.op]


class MemberFilter(_Rule):
    path: str = Field(min_length=1, max_length=200)
    op: Literal["in", "not_in"]
    value: list[Scalar] = Field(min_length=1, max_length=100)

    def holds(self, value: Any) -> bool:
        member = value is not None and any(_same(value, v) for v in self.value)
        return member if self.op == "in" else not member


class TextFilter(_Rule):
    path: str = Field(min_length=1, max_length=200)
    op: Literal["contains", "matches"]
    value: str = Field(min_length=1, max_length=200, description="Substring, or a regular expression for 'matches'.")

    @field_validator("value")
    @classmethod
    def _regex(cls, value: str, info) -> str:
        return _check_regex(value) if info.data.get("op") == "matches" else value

    def holds(self, value: Any) -> bool:
        if isinstance(value, list):  # a tag list contains a tag
            return any(self.holds(v) for v in value)
        if value is None or isinstance(value, dict):
            return False
        return self.value in str(value) if self.op == "contains" else re.search(self.value, str(value)) is not None


FilterRule = Annotated[PresenceFilter | CompareFilter | MemberFilter | TextFilter, Field(discriminator="op")]


# --- a data mapping and a compiled set ------------------------------------------------------------


class DataMapping(BaseModel):
    """One mapping as the installer stores it (``fields`` is its ``field_mappings`` column)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    source_type: str
    target_entity: str
    external_id: ExternalId
    fields: dict[str, FieldSpec | str] = Field(alias="field_mappings")
    attributes: dict[str, str] = Field(default_factory=dict)
    transformation_rules: list[TransformRule] = Field(default_factory=list)
    filter_rules: list[FilterRule] = Field(default_factory=list)
    priority: int = 100
    active: bool = True
    origin: Literal["connector", "custom"] = "custom"


@dataclass(frozen=True)
class SourceMapping:
    """One mapping ready to run: the spec to map with (compiled once) and the rules around it."""

    spec: MappingSpec
    filters: tuple[Any, ...] = ()
    transforms: tuple[Any, ...] = ()
    compiled: CompiledMapping = field(init=False, repr=False, compare=False)
    _filters: tuple[tuple[Callable[[Any], Any], Callable[[Any], bool]], ...] = field(
        init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", CompiledMapping(self.spec))
        object.__setattr__(self, "_filters", tuple((getter(f.path), f.holds) for f in self.filters))

    def keeps(self, record: Any) -> bool:
        if not self._filters or not isinstance(record, dict):  # most mappings filter nothing
            return True
        return all(holds(read(record)) for read, holds in self._filters)

    def transform(self, values: dict[str, Any]) -> None:
        for rule in self.transforms:
            value = values.get(rule.field)
            if isinstance(value, str):
                values[rule.field] = rule.apply(value)
            elif isinstance(value, list):
                values[rule.field] = [rule.apply(v) if isinstance(v, str) else v for v in value]


# source type -> one chain per target entity, each chain in the order its mappings are tried
MappingPlan = dict[str, list[list[SourceMapping]]]


def default_specs(manifest: Manifest) -> dict[str, MappingSpec]:
    """Source type → the connector's own mapping of it: its streams and its webhook payload types."""
    specs = {s.name: s.mapping for s in (manifest.api.streams if manifest.api else [])}
    if manifest.webhook is not None:
        specs.update({WEBHOOK_PREFIX + t: m for t, m in manifest.webhook.payload.types.items()})
    return specs


_PLANS: OrderedDict[tuple[int, str | None], tuple[Manifest, MappingPlan]] = OrderedDict()
_PLANS_MAX = 512


def plan(manifest: Manifest, mappings: Iterable[Mapping[str, Any] | DataMapping] | None) -> MappingPlan:
    """The connector's defaults when ``mappings`` is None, else the installation's own set.

    Plans are read-only and a connector instance is made per job, test or webhook delivery, so the
    compiled plan of a (manifest, set) is kept (LRU, ``_PLANS_MAX``) instead of re-validating and
    re-compiling the set for every delivery."""
    if mappings is not None:
        mappings = list(mappings)
        raw = [m.model_dump(by_alias=True) if isinstance(m, DataMapping) else m for m in mappings]
        key: tuple[int, str | None] = (id(manifest), json.dumps(raw, sort_keys=True, default=str))
    else:
        key = (id(manifest), None)
    hit = _PLANS.get(key)
    if hit is not None and hit[0] is manifest:  # the id of a collected manifest may be reused
        _PLANS.move_to_end(key)
        return hit[1]
    built = _build_plan(manifest, mappings)
    _PLANS[key] = (manifest, built)
    if len(_PLANS) > _PLANS_MAX:
        _PLANS.popitem(last=False)
    return built


def _build_plan(manifest: Manifest, mappings: list[Mapping[str, Any] | DataMapping] | None) -> MappingPlan:
    defaults = default_specs(manifest)
    if mappings is None:
        return {source: [[SourceMapping(spec)]] for source, spec in defaults.items()}
    try:
        parsed = [m if isinstance(m, DataMapping) else DataMapping.model_validate(m) for m in mappings]
        chains: dict[str, dict[str, list[tuple[int, SourceMapping]]]] = {}
        for m in parsed:
            if not m.active:
                continue
            default = defaults.get(m.source_type)
            spec = default if m.origin == "connector" and default is not None else MappingSpec(
                entity=m.target_entity, external_id=m.external_id, fields=m.fields, attributes=m.attributes)
            chains.setdefault(m.source_type, {}).setdefault(spec.entity, []).append(
                (m.priority, SourceMapping(spec, tuple(m.filter_rules), tuple(m.transformation_rules))))
    except ValidationError as exc:
        where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:3])
        raise ConfigurationError(f"the installation's data mappings are invalid ({where})") from None
    # a stable sort: equal priorities keep the installer's order
    return {source: [[m for _, m in sorted(chain, key=lambda pm: -pm[0])] for chain in by_entity.values()]
            for source, by_entity in chains.items()}
