"""Automation rules compile and evaluate in the data mappings' language (aria_connectors.rules)."""

from __future__ import annotations

import uuid

import pytest

from aria_connectors.rules import RuleInvalid, compile_rule
from aria_contracts.events import RuleAction, RuleTrigger

TARGET = uuid.uuid4()


def risk(**over) -> dict:
    return {"entity_id": "e-1", "severity": "high", "status": "open", "category": "CredentialAccess",
            "title": "Credential dumping", "provenance": {"integration_key": "crowdstrike_falcon",
                                                         "installation_id": str(TARGET)},
            "attributes": {"tags": ["prod", "pci"], "ticket": {"key": "SEC-4"}}, **over}


def rule(trigger: dict, **action):
    return compile_rule(RuleTrigger(entity_type="risk", **trigger),
                        RuleAction(installation_id=TARGET, action="create_ticket", **action))


def test_filters_all_hold_and_severity_is_at_least():
    r = rule({"min_severity": "high", "statuses": ["open"], "categories": ["CredentialAccess"],
              "source_integration_keys": ["crowdstrike_falcon"],
              "conditions": [{"path": "attributes.tags", "op": "contains", "value": "prod"}]})
    assert r.matches(risk(), entity_type="risk", from_push_integration=False)
    assert r.matches(risk(severity="critical"), entity_type="risk", from_push_integration=False)
    for other in (risk(severity="medium"), risk(status="resolved"), risk(category="Discovery"),
                  risk(attributes={"tags": ["dev"]}),
                  risk(provenance={"integration_key": "tenable_vm", "installation_id": str(TARGET)})):
        assert not r.matches(other, entity_type="risk", from_push_integration=False)
    assert not r.matches(risk(), entity_type="alert", from_push_integration=False)


def test_entities_from_push_integrations_match_only_when_asked():
    assert not rule({}).matches(risk(), entity_type="risk", from_push_integration=True)
    assert rule({"from_push_integrations": True}).matches(risk(), entity_type="risk", from_push_integration=True)


def test_input_is_mapped_with_field_specs_into_nested_fields():
    r = rule({}, input={"entity_id": "entity_id", "comment": {"path": "severity", "map": {"high": "urgent"}},
                        "changes.title": {"const": "from a rule"}})
    assert r.input_for(risk()) == {"entity_id": "e-1", "comment": "urgent", "changes": {"title": "from a rule"}}
    assert rule({}).input_for(risk()) == {"entity_id": "e-1"}  # the default input
    match = r.evaluate(risk(severity="low"), entity_type="risk", from_push_integration=False)
    assert match is not None and match.input is None and "comment" in match.error  # not in the map


def test_a_bad_rule_names_every_field_at_fault():
    with pytest.raises(RuleInvalid) as caught:
        compile_rule(RuleTrigger(entity_type="asset", min_severity="high",
                                 conditions=[{"path": "name", "op": "near", "value": 1}]),
                     RuleAction(installation_id=TARGET, action="create_ticket",
                                input={"bad name": "x", "entity_id": {"path": "a", "const": 1}, "comment": 3}))
    fields = [e["field"] for e in caught.value.errors]
    assert fields == ["trigger.conditions.0", "trigger.min_severity", "action.input.bad name",
                      "action.input.entity_id", "action.input.comment"]
