"""Automation rules: does an entity event start a rule, and with what action input.

A rule (``aria_contracts.events.RuleTrigger`` + ``RuleAction``) is written in the data mappings'
language, so one reads and checks it like a mapping: its ``conditions`` are data-mapping filter
rules (``data_mappings.FilterRule``) on the contract event, and its action ``input`` maps action
input fields from the event with field specs (``manifest.FieldSpec`` or a plain path). The
installer compiles a rule to refuse a bad one and to dry-run it; sync-runner compiles the rules
it keeps to evaluate each entity event. Both get the same answer from the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from aria_contracts.events import RuleAction, RuleTrigger

from .errors import MappingError
from .sdk.data_mappings import FilterRule
from .sdk.manifest import FieldSpec
from .sdk.mapping import field_getter
from .sdk.paths import getter

SEVERITIES = ("info", "low", "medium", "high", "critical")
# Where each entity type keeps what a trigger's ``categories`` match.
CATEGORY_FIELD = {"risk": "category", "alert": "tactic", "asset": "asset_type", "indicator": "indicator_type"}
DEFAULT_INPUT: dict[str, Any] = {"entity_id": "entity_id"}
_FILTER = TypeAdapter(FilterRule)


class RuleInvalid(Exception):
    """The rule cannot be compiled; ``errors`` are (field, message) pairs, never input values."""

    def __init__(self, errors: list[dict[str, str]]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class Match:
    """A matching entity and the action input it would get (or why its input could not be mapped)."""

    entity_id: str
    input: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class CompiledRule:
    trigger: RuleTrigger
    action: RuleAction
    _conditions: tuple[tuple[Callable[[Any], Any], Callable[[Any], bool]], ...]
    _inputs: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...]

    def matches(self, event: dict[str, Any], *, entity_type: str, from_push_integration: bool) -> bool:
        """Whether an entity event (the contract payload as JSON) starts this rule.
        ``from_push_integration``: its integration has push actions (the caller knows the registry)."""
        t = self.trigger
        if entity_type != t.entity_type or (from_push_integration and not t.from_push_integrations):
            return False
        provenance = event.get("provenance") or {}
        if t.source_integration_keys and provenance.get("integration_key") not in t.source_integration_keys:
            return False
        if t.source_installation_ids and provenance.get("installation_id") not in \
                {str(i) for i in t.source_installation_ids}:
            return False
        if t.min_severity is not None:
            severity = event.get("severity")
            if severity not in SEVERITIES or SEVERITIES.index(severity) < SEVERITIES.index(t.min_severity):
                return False
        if t.statuses and event.get("status") not in t.statuses:
            return False
        if t.categories and event.get(CATEGORY_FIELD.get(entity_type, "")) not in t.categories:
            return False
        return all(holds(read(event)) for read, holds in self._conditions)

    def input_for(self, event: dict[str, Any]) -> dict[str, Any]:
        """The action input mapped from the event (dotted names become nested objects); raises
        MappingError (naming the field, never a value) when a value cannot be mapped."""
        out: dict[str, Any] = {}
        for name, read in self._inputs:
            value = read(event)
            if value is None:
                continue
            *parents, leaf = name.split(".")
            node = out
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return out

    def evaluate(self, event: dict[str, Any], *, entity_type: str, from_push_integration: bool) -> Match | None:
        if not self.matches(event, entity_type=entity_type, from_push_integration=from_push_integration):
            return None
        try:
            return Match(entity_id=str(event.get("entity_id")), input=self.input_for(event))
        except MappingError as exc:
            return Match(entity_id=str(event.get("entity_id")), input=None, error=str(exc))


def compile_rule(trigger: RuleTrigger, action: RuleAction) -> CompiledRule:
    """The rule ready to evaluate; raises RuleInvalid naming every bad condition and input field."""
    errors: list[dict[str, str]] = []
    conditions = []
    for i, raw in enumerate(trigger.conditions):
        try:
            rule = _FILTER.validate_python(raw)
        except ValidationError as exc:
            errors.extend({"field": f"trigger.conditions.{i}", "message": _message(e)} for e in exc.errors()[:3])
            continue
        conditions.append((getter(rule.path), rule.holds))
    if trigger.min_severity is not None and trigger.entity_type == "asset":
        errors.append({"field": "trigger.min_severity", "message": "assets have no severity"})
    if trigger.categories and trigger.entity_type not in CATEGORY_FIELD:
        errors.append({"field": "trigger.categories", "message": f"{trigger.entity_type} events have no category"})
    inputs = []
    for name, raw in (action.input or DEFAULT_INPUT).items():
        if not name or any(not part.isidentifier() for part in name.split(".")):
            errors.append({"field": f"action.input.{name}", "message": "not an input field name"})
            continue
        try:
            if not isinstance(raw, (str, dict)) or raw == "":
                raise ValueError("a path, or a field spec object ({path, const, map, default...})")
            spec = raw if isinstance(raw, str) else FieldSpec.model_validate(raw)
            inputs.append((name, field_getter(name, spec)))
        except ValidationError as exc:
            errors.extend({"field": f"action.input.{name}", "message": _message(e)} for e in exc.errors()[:3])
        except ValueError as exc:  # a field spec that compiles badly (a regular expression...)
            errors.append({"field": f"action.input.{name}", "message": str(exc)})
    if errors:
        raise RuleInvalid(errors)
    return CompiledRule(trigger=trigger, action=action, _conditions=tuple(conditions), _inputs=tuple(inputs))


def input_names(action: RuleAction) -> list[str]:
    """The (dotted) input fields a rule's action maps."""
    return list(action.input or DEFAULT_INPUT)


def _message(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if not isinstance(p, int))
    return f"{where}: {error['msg']}" if where else error["msg"]
