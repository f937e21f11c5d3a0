"""Automation rules in the installer: roles, versions and audit, problem+json for bad rules, the
rule.changed event, and the one-time conversion of the retired push_min_severity setting."""

from __future__ import annotations

import uuid

import asyncpg

from aria_installer.main import define
from aria_installer.rules.service import converted_rule_id
from aria_platform.app import create_app
from aria_platform.testing import KafkaProbe, bearer, running_app, user_token

RULES = "aria.automation.rules"
JIRA = {"base_url": "http://127.0.0.1:9", "email": "bot@example.com", "api_token": "t0k3n-rules", "project_key": "SEC"}


async def jira_installation(client, h) -> str:
    inst = (await client.post("/v1/installations", json={"integration_key": "jira_cloud"}, headers=h["admin"])).json()
    configured = await client.put(f"/v1/installations/{inst['id']}/configuration", headers=h["admin"],
                                  json={"config": JIRA})
    assert configured.status_code == 200, configured.text
    return inst["id"]


def rule(installation_id: str, **action) -> dict:
    return {"name": "High CrowdStrike risks to Jira",
            "trigger": {"entity_type": "risk", "min_severity": "high", "source_integration_keys": ["crowdstrike_falcon"]},
            "action": {"installation_id": installation_id, "action": "create_ticket", **action}}


async def test_admins_change_rules_viewers_read_them_and_every_change_is_a_version(client, org, infra):
    org_id, h = org
    inst = await jira_installation(client, h)
    body = rule(inst)

    refused = await client.post("/v1/rules", json=body, headers=h["operator"])
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role"
    async with KafkaProbe(infra.kafka_bootstrap, RULES) as probe:
        created = await client.post("/v1/rules", json=body, headers=h["admin"])
        assert created.status_code == 201, created.text
        r = created.json()
        assert r["version"] == 1 and r["enabled"] and r["action"]["input"] == {}
        changed = await probe.wait_for(lambda e: e.type == "automation_rule.changed" and e.data["rule_id"] == r["id"])
    assert changed[0].key == r["id"] and changed[0].data["trigger"]["min_severity"] == "high"
    assert changed[0].org_id == org_id

    viewer_put = await client.put(f"/v1/rules/{r['id']}", json={**body, "enabled": False}, headers=h["viewer"])
    assert viewer_put.status_code == 403
    assert (await client.delete(f"/v1/rules/{r['id']}", headers=h["viewer"])).status_code == 403
    updated = await client.put(f"/v1/rules/{r['id']}", json={**body, "enabled": False, "expected_version": 1},
                               headers=h["admin"])
    assert updated.status_code == 200 and updated.json()["version"] == 2 and not updated.json()["enabled"]
    stale = await client.put(f"/v1/rules/{r['id']}", json={**body, "expected_version": 1}, headers=h["admin"])
    assert stale.status_code == 409 and stale.json()["code"] == "rule_version_conflict"

    listed = await client.get("/v1/rules", params={"limit": 1}, headers=h["viewer"])
    assert listed.status_code == 200 and [i["id"] for i in listed.json()["items"]] == [r["id"]]
    assert (await client.get("/v1/rules", headers=h["viewer"])).json()["next_cursor"] is None

    assert (await client.delete(f"/v1/rules/{r['id']}", headers=h["admin"])).status_code == 204
    assert (await client.get(f"/v1/rules/{r['id']}", headers=h["viewer"])).status_code == 404
    versions = (await client.get(f"/v1/rules/{r['id']}/versions", headers=h["viewer"])).json()["items"]
    assert [(v["version"], v["change"], v["enabled"]) for v in versions] == [
        (3, "deleted", False), (2, "updated", False), (1, "created", True)]
    audit = (await client.get(f"/v1/rules/{r['id']}/audit", headers=h["viewer"])).json()["items"]
    assert [a["event"] for a in audit] == ["deleted", "updated", "created"] and all(a["actor"] for a in audit)

    # Another organization sees none of it.
    other = bearer(user_token(infra, org_id=uuid.uuid4(), role="admin"))
    assert (await client.get("/v1/rules", headers=other)).json()["items"] == []
    assert (await client.get(f"/v1/rules/{r['id']}/versions", headers=other)).status_code == 404


async def test_bad_rules_are_problems_naming_the_field(client, org):
    _, h = org
    inst = await jira_installation(client, h)

    async def refused(body) -> dict:
        answer = await client.post("/v1/rules", json=body, headers=h["admin"])
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        return answer.json()

    unknown = await refused({**rule(inst), "action": {"installation_id": inst, "action": "isolate_host"}})
    assert unknown["code"] == "unknown_action" and unknown["errors"][0]["field"] == "action.action"

    bad_spec = await refused(rule(inst, input={"entity_id": {"path": "entity_id", "const": "x"}}))
    assert bad_spec["code"] == "rule_input_invalid"
    assert bad_spec["errors"][0]["field"] == "action.input.entity_id"

    not_taken = await refused(rule(inst, input={"entity_id": "entity_id", "vendor_id": "attributes.key"}))
    assert not_taken["code"] == "rule_input_invalid"
    assert {"field": "action.input.vendor_id", "message": "not taken by create_ticket"} in not_taken["errors"]

    wrong_type = await refused({**rule(inst), "trigger": {"entity_type": "alert"}})
    assert wrong_type["code"] == "rule_input_invalid"
    assert wrong_type["errors"][0]["field"] == "trigger.entity_type"

    bad_filter = await refused({**rule(inst), "trigger": {"entity_type": "risk",
                                                           "conditions": [{"path": "title", "op": "near"}]}})
    assert bad_filter["code"] == "rule_invalid" and bad_filter["errors"][0]["field"] == "trigger.conditions.0"

    elsewhere = await refused(rule(str(uuid.uuid4())))
    assert elsewhere["code"] == "rule_invalid" and elsewhere["errors"][0]["field"] == "action.installation_id"

    severity = await client.post("/v1/rules", json={**rule(inst), "trigger": {"entity_type": "risk",
                                                                              "min_severity": "urgent"}},
                                 headers=h["admin"])
    assert severity.status_code == 422 and severity.json()["code"] == "validation_error"


async def test_push_min_severity_becomes_one_equivalent_rule(client, org, settings, database, infra):
    """An installation configured before rules existed (its settings carry push_min_severity) gets
    one rule at the installer's start, and no second one at the next start."""
    _, h = org
    inst = await jira_installation(client, h)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            """INSERT INTO integration_configurations (installation_id, version, settings, secret_fields, config_hash,
                                                       credential_ref, created_by)
               SELECT installation_id, version + 1, settings || '{"push_min_severity": "high"}'::jsonb, secret_fields,
                      config_hash, credential_ref, 'before-rules'
               FROM integration_configurations WHERE installation_id = $1 ORDER BY version DESC LIMIT 1""",
            uuid.UUID(inst))
    finally:
        await conn.close()

    expected = str(converted_rule_id(uuid.UUID(inst)))
    async with KafkaProbe(infra.kafka_bootstrap, RULES) as probe:
        async with running_app(create_app(define(settings))):
            pass
        async with running_app(create_app(define(settings))):
            pass
        await probe.wait_for(lambda e: e.data.get("rule_id") == expected)
        await probe.drain(1.0)
    assert len([e for _, e, _ in probe.seen if e.data.get("rule_id") == expected]) == 1

    converted = (await client.get(f"/v1/rules/{expected}", headers=h["viewer"])).json()
    assert converted["trigger"] == {
        "entity_type": "risk", "min_severity": "high", "statuses": ["open", "in_progress"], "categories": [],
        "source_integration_keys": [], "source_installation_ids": [], "conditions": [],
        "from_push_integrations": False}
    assert converted["action"] == {"installation_id": inst, "action": "create_ticket", "input": {}}
    assert converted["created_by"] == "system:push_min_severity" and converted["version"] == 1

    # The setting itself is gone from the API: a configuration that sends it no longer pushes anything.
    again = await client.put(f"/v1/installations/{inst}/configuration", headers=h["admin"],
                             json={"config": JIRA, "push_min_severity": "low"})
    assert again.status_code == 200 and "push_min_severity" not in again.json()["settings"]
