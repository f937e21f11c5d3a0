"""Data mappings: seeded from the connector's manifest, validated, edited, reset, logged."""

import uuid

import asyncpg

from aria_contracts.topics import INSTALLATION_LIFECYCLE
from aria_platform.testing import KafkaProbe, bearer, user_token

RISK_MAPPING = {
    "source_type": "alerts", "target_entity": "risk", "external_id": "composite_id",
    "fields": {"title": "name", "severity": {"path": "severity_name", "map": {"Critical": "critical"},
                                             "map_default": "medium"}},
    "attributes": {"tactic": "tactic"},
    "transformation_rules": [{"field": "title", "op": "trim"}, {"field": "title", "op": "prefix", "value": "[EDR] "},
                             {"field": "title", "op": "replace", "pattern": "\\s+", "value": " "}],
    "filter_rules": [{"path": "status", "op": "in", "value": ["new", "reopened"]},
                     {"path": "device.platform_name", "op": "matches", "value": "^(Windows|Mac)"},
                     {"path": "severity", "op": "gte", "value": 50}],
    "priority": 200,
}


async def install(client, h, key="crowdstrike_falcon"):
    response = await client.post("/v1/installations", json={"integration_key": key}, headers=h["admin"])
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def count_rows(database, installation_id) -> int:
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval("SELECT count(*) FROM integration_data_mappings WHERE installation_id = $1",
                                   uuid.UUID(installation_id))
    finally:
        await conn.close()


async def test_an_installation_starts_from_the_connectors_default_mappings(client, org):
    _, h = org
    inst = await install(client, h)
    mappings = (await client.get(f"/v1/installations/{inst}/mappings", headers=h["viewer"])).json()
    assert {(m["source_type"], m["target_entity"], m["origin"]) for m in mappings} == {
        ("alerts", "risk", "connector"), ("hosts", "asset", "connector")}
    alerts = next(m for m in mappings if m["source_type"] == "alerts")
    assert alerts["external_id"] == "composite_id" and alerts["fields"]["title"] == "name"
    assert alerts["fields"]["severity"]["map"]["Critical"] == "critical" and alerts["active"]

    webhook = await install(client, h, "generic_webhook")
    sources = {m["source_type"] for m in (await client.get(f"/v1/installations/{webhook}/mappings",
                                                           headers=h["viewer"])).json()}
    assert sources == {"webhook.risk", "webhook.alert", "webhook.indicator", "webhook.vulnerability", "webhook.asset"}


async def test_create_update_delete_reset_each_in_the_activity_log(client, org):
    _, h = org
    inst = await install(client, h)
    base = f"/v1/installations/{inst}/mappings"
    created = await client.post(base, json=RISK_MAPPING, headers=h["admin"])
    assert created.status_code == 201, created.text
    mapping = created.json()
    assert mapping["origin"] == "custom" and mapping["priority"] == 200
    assert mapping["fields"]["severity"] == {"path": "severity_name", "map": {"Critical": "critical"},
                                             "map_default": "medium"}
    assert mapping["filter_rules"][0] == {"path": "status", "op": "in", "value": ["new", "reopened"]}
    assert (await client.get(f"{base}/{mapping['id']}", headers=h["viewer"])).json() == mapping

    listed = (await client.get(base, headers=h["viewer"])).json()
    alerts = [m["id"] for m in listed if m["source_type"] == "alerts"]
    assert alerts[0] == mapping["id"], "higher priority first within a source type"

    default_hosts = next(m for m in listed if m["source_type"] == "hosts")
    changed = await client.put(f"{base}/{default_hosts['id']}", headers=h["admin"], json={
        "source_type": "hosts", "target_entity": "asset", "external_id": "device_id",
        "fields": {"name": "hostname", "asset_type": {"const": "server"}}, "active": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["origin"] == "custom" and changed.json()["active"] is False

    assert (await client.delete(f"{base}/{mapping['id']}", headers=h["admin"])).status_code == 204
    assert (await client.get(f"{base}/{mapping['id']}", headers=h["viewer"])).status_code == 404
    assert (await client.delete(f"{base}/{mapping['id']}", headers=h["admin"])).status_code == 404

    reset = await client.post(f"{base}/reset", headers=h["admin"])
    assert reset.status_code == 200
    assert {(m["source_type"], m["origin"], m["active"]) for m in reset.json()} == {
        ("alerts", "connector", True), ("hosts", "connector", True)}

    log = (await client.get(f"/v1/installations/{inst}/activity?type=mapping", headers=h["viewer"])).json()["items"]
    assert [a["details"]["action"] for a in log] == ["reset", "delete", "update", "create"]
    assert all(a["actor"] and a["status"] == "success" for a in log)


async def test_invalid_mappings_are_422_and_write_nothing(client, org, database):
    _, h = org
    inst = await install(client, h)
    base = f"/v1/installations/{inst}/mappings"
    before = await count_rows(database, inst)
    cases = {
        "unknown target entity": ({**RISK_MAPPING, "target_entity": "spaceship"}, "mapping_invalid", "target_entity"),
        "unknown source type": ({**RISK_MAPPING, "source_type": "nope"}, "mapping_invalid", "source_type"),
        "unknown target field": ({**RISK_MAPPING, "fields": {"colour": "name"}}, "mapping_invalid", "fields.colour"),
        "reserved field": ({**RISK_MAPPING, "fields": {"org_id": "cid"}}, "mapping_invalid", "fields.org_id"),
        "rule on unknown field": ({**RISK_MAPPING, "transformation_rules": [{"field": "colour", "op": "lower"}]},
                                  "mapping_invalid", "transformation_rules.0.field"),
        "unknown rule op": ({**RISK_MAPPING, "filter_rules": [{"path": "x", "op": "teleport", "value": 1}]},
                            "validation_error", None),
        "bad regex": ({**RISK_MAPPING, "filter_rules": [{"path": "x", "op": "matches", "value": "(unclosed"}]},
                      "validation_error", None),
        "missing rule argument": ({**RISK_MAPPING, "transformation_rules": [{"field": "title", "op": "prefix"}]},
                                  "validation_error", None),
        "bad field spec": ({**RISK_MAPPING, "fields": {"title": {"path": "a", "const": "b"}}}, "validation_error", None),
        "no fields": ({**RISK_MAPPING, "fields": {}}, "validation_error", None),
    }
    for name, (body, code, field) in cases.items():
        response = await client.post(base, json=body, headers=h["admin"])
        assert response.status_code == 422 and response.json()["code"] == code, (name, response.text)
        if field:
            assert field in {e["field"] for e in response.json()["errors"]}, (name, response.json())
    first = (await client.get(base, headers=h["viewer"])).json()[0]
    bad_update = await client.put(f"{base}/{first['id']}", json={**RISK_MAPPING, "target_entity": "x"},
                                  headers=h["admin"])
    assert bad_update.status_code == 422
    assert await count_rows(database, inst) == before
    assert (await client.get(f"{base}/{first['id']}", headers=h["viewer"])).json() == first
    log = (await client.get(f"/v1/installations/{inst}/activity?type=mapping", headers=h["viewer"])).json()
    assert log["items"] == []


async def test_mappings_need_admin_and_belong_to_the_organization(client, org, infra):
    _, h = org
    inst = await install(client, h)
    base = f"/v1/installations/{inst}/mappings"
    assert (await client.post(base, json=RISK_MAPPING, headers=h["operator"])).status_code == 403
    assert (await client.post(f"{base}/reset", headers=h["viewer"])).status_code == 403
    stranger = bearer(user_token(infra, org_id=uuid.uuid4(), role="admin"))
    mapping_id = (await client.get(base, headers=h["viewer"])).json()[0]["id"]
    for method, path, body in (("GET", "", None), ("POST", "", RISK_MAPPING), ("GET", f"/{mapping_id}", None),
                               ("PUT", f"/{mapping_id}", RISK_MAPPING), ("DELETE", f"/{mapping_id}", None),
                               ("POST", "/reset", None)):
        response = await client.request(method, base + path, json=body, headers=stranger)
        assert response.status_code == 404 and response.json()["code"] == "not_found", (method, path)


async def test_every_change_announces_the_whole_new_set(client, org, infra):
    """sync-runner and webhook-ingest map records with what installation.mappings_changed carries."""
    _, h = org
    inst = await install(client, h)
    base = f"/v1/installations/{inst}/mappings"
    async with KafkaProbe(infra.kafka_bootstrap, INSTALLATION_LIFECYCLE.name) as probe:
        created = (await client.post(base, json=RISK_MAPPING, headers=h["admin"])).json()
        assert (await client.delete(f"{base}/{created['id']}", headers=h["admin"])).status_code == 204
        changes = await probe.wait_for(lambda e: e.type == "installation.mappings_changed"
                                       and e.data["installation_id"] == inst, count=2)
    after_create, after_delete = sorted((e.data for e in changes), key=lambda d: d["revision"])
    assert after_create["revision"] < after_delete["revision"]
    custom = [m for m in after_create["mappings"] if m["origin"] == "custom"]
    assert custom == [{"source_type": "alerts", "target_entity": "risk", "external_id": "composite_id",
                       "field_mappings": RISK_MAPPING["fields"], "attributes": RISK_MAPPING["attributes"],
                       "transformation_rules": RISK_MAPPING["transformation_rules"],
                       "filter_rules": RISK_MAPPING["filter_rules"], "priority": 200, "active": True,
                       "origin": "custom"}]
    assert len(after_create["mappings"]) == 3 and len(after_delete["mappings"]) == 2
    assert all(m["origin"] == "connector" for m in after_delete["mappings"])
    installation = (await client.get(f"/v1/installations/{inst}", headers=h["viewer"])).json()
    assert installation["revision"] == after_delete["revision"], "a mapping change is a new installation revision"
