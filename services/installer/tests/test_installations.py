import dataclasses
import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from aria_platform.app import create_app
from aria_platform.testing import KafkaProbe, bearer, migrated_database, running_app, user_token
from aria_installer.main import define

ROOT = Path(__file__).parents[2]
SECRET = "installer-canary-SECRET-93b1"
LIFECYCLE = "aria.installation.lifecycle"

CONFIG = {"base_url": "http://127.0.0.1:9", "client_id": "client-1", "client_secret": SECRET}


async def table_dump(database, *, outbox_after: int = 0) -> str:
    """Every row of the installer's tables; of the outbox, the rows after id `outbox_after` (the relay
    deletes earlier tests' rows whenever it has published them)."""
    conn = await asyncpg.connect(database)
    try:
        text = ""
        for table in ("integration_installations", "integration_configurations", "integration_activity_logs",
                      "integration_data_mappings", "integration_webhooks", "idempotency_keys"):
            text += "".join(str(dict(r)) for r in await conn.fetch(f"SELECT * FROM {table}"))
        return text + "".join(str(dict(r)) for r in await conn.fetch(
            "SELECT * FROM outbox WHERE id > $1 ORDER BY id", outbox_after))
    finally:
        await conn.close()


async def outbox_high_water(database) -> int:
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval("SELECT coalesce(max(id), 0) FROM outbox")
    finally:
        await conn.close()


async def test_install_is_idempotent_per_org_and_integration(client, org):
    _, h = org
    first = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"}, headers=h["admin"])
    again = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"}, headers=h["admin"])
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"] and first.json()["status"] == "configuring"


async def test_idempotency_key_replays_and_rejects_a_different_body(client, org):
    _, h = org
    headers = {**h["admin"], "Idempotency-Key": "k-1"}
    first = await client.post("/v1/installations", json={"integration_key": "generic_webhook"}, headers=headers)
    replay = await client.post("/v1/installations", json={"integration_key": "generic_webhook"}, headers=headers)
    other = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"}, headers=headers)
    assert first.status_code == 201 and replay.json()["id"] == first.json()["id"]
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"


async def test_bad_requests_get_problems_and_write_nothing(client, org, infra, database):
    _, h = org
    mark = await outbox_high_water(database)
    before = await table_dump(database, outbox_after=mark)
    unknown = await client.post("/v1/installations", json={"integration_key": "nope"}, headers=h["admin"])
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_integration"
    assert unknown.headers["content-type"] == "application/problem+json"
    no_token = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"})
    assert no_token.status_code == 401 and no_token.json()["code"] == "missing_token"
    viewer = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"}, headers=h["viewer"])
    assert viewer.status_code == 403 and viewer.json()["code"] == "insufficient_role"
    forged = await client.get("/v1/installations", headers=bearer("not.a.jwt"))
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_token"
    assert await table_dump(database, outbox_after=mark) == before


async def test_configure_validates_and_keeps_secrets_out_of_postgres_and_kafka(client, org, database, infra):
    org_id, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    bad = await client.put(f"/v1/installations/{inst['id']}/configuration",
                           json={"config": {"base_url": "not a url", "client_secret": SECRET}}, headers=h["admin"])
    assert bad.status_code == 422 and bad.json()["code"] == "config_invalid"
    assert {e["field"] for e in bad.json()["errors"]} >= {"client_id"}
    assert SECRET not in bad.text

    async with KafkaProbe(infra.kafka_bootstrap, LIFECYCLE) as probe:
        ok = await client.put(f"/v1/installations/{inst['id']}/configuration", json={"config": CONFIG},
                              headers=h["admin"])
        assert ok.status_code == 200, ok.text
        events = await probe.wait_for(lambda e: e.type == "installation.configured" and e.data["installation_id"] == inst["id"])
    body = ok.json()
    assert body["status"] == "disabled" and body["config_version"] == 1
    assert body["secret_fields"] == ["client_secret"] and "client_secret" not in body["settings"]
    assert SECRET not in ok.text and SECRET not in await table_dump(database)
    assert events and SECRET not in events[0].model_dump_json() and events[0].org_id == org_id
    assert events[0].data["credential_ref"]

    # Reconfiguring without the secret keeps the stored credential.
    again = await client.put(f"/v1/installations/{inst['id']}/configuration",
                             json={"config": {"base_url": "http://127.0.0.1:9", "client_id": "client-2"}},
                             headers=h["admin"])
    assert again.status_code == 200 and again.json()["config_version"] == 2
    assert again.json()["secret_fields"] == ["client_secret"]


async def test_state_machine_and_sync_request(client, org, infra):
    org_id, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    early = await client.post(f"/v1/installations/{inst['id']}/enable", headers=h["admin"])
    assert early.status_code == 409 and early.json()["current_state"] == "configuring"
    await client.put(f"/v1/installations/{inst['id']}/configuration", json={"config": CONFIG}, headers=h["admin"])
    not_enabled = await client.post(f"/v1/installations/{inst['id']}/sync", headers=h["operator"])
    assert not_enabled.status_code == 409 and not_enabled.json()["current_state"] == "disabled"

    async with KafkaProbe(infra.kafka_bootstrap, LIFECYCLE, "aria.sync.requested") as probe:
        enabled = await client.post(f"/v1/installations/{inst['id']}/enable", headers=h["admin"])
        assert enabled.status_code == 200 and enabled.json()["status"] == "enabled"
        operator_enable = await client.post(f"/v1/installations/{inst['id']}/disable", headers=h["operator"])
        assert operator_enable.status_code == 403
        sync = await client.post(f"/v1/installations/{inst['id']}/sync", headers=h["operator"])
        assert sync.status_code == 202
        requested = await probe.wait_for(lambda e: e.type == "sync.requested" and e.data["installation_id"] == inst["id"])
        enabled_events = [e for e in probe.seen if e[1].type == "installation.enabled"]
    assert requested[0].data["request_id"] == sync.json()["request_id"]
    assert requested[0].data["settings"]["client_id"] == "client-1" and requested[0].traceparent
    assert enabled_events and enabled_events[0][1].data["credential_ref"] == requested[0].data["credential_ref"]


async def test_other_organizations_installation_is_not_found(client, org, infra):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    stranger = bearer(user_token(infra, org_id=uuid.uuid4(), role="admin"))
    for method, path in (("GET", ""), ("POST", "/enable"), ("DELETE", ""), ("GET", "/activity")):
        response = await client.request(method, f"/v1/installations/{inst['id']}{path}", headers=stranger)
        assert response.status_code == 404 and response.json()["code"] == "not_found", (method, path)


async def test_activity_log_filters_and_pages(client, org):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    await client.put(f"/v1/installations/{inst['id']}/configuration", json={"config": CONFIG}, headers=h["admin"])
    await client.post(f"/v1/installations/{inst['id']}/enable", headers=h["admin"])
    await client.post(f"/v1/installations/{inst['id']}/disable", headers=h["admin"])
    page1 = (await client.get(f"/v1/installations/{inst['id']}/activity?limit=2", headers=h["viewer"])).json()
    page2 = (await client.get(f"/v1/installations/{inst['id']}/activity?limit=2&cursor={page1['next_cursor']}",
                              headers=h["viewer"])).json()
    types = [a["activity_type"] for a in page1["items"] + page2["items"]]
    assert types == ["state_change", "state_change", "configure", "install"] and page2["next_cursor"] is None
    only = (await client.get(f"/v1/installations/{inst['id']}/activity?type=configure", headers=h["viewer"])).json()
    assert [a["activity_type"] for a in only["items"]] == ["configure"]
    bad = await client.get(f"/v1/installations/{inst['id']}/activity?cursor=%%%", headers=h["viewer"])
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"


async def test_an_event_committed_while_the_relay_is_down_arrives_once_later(settings, org, infra):
    """The outbox: the state change commits with its event; a relay started later publishes it once."""
    org_id, h = org
    # Its own database, so no other running relay can publish the row.
    database = await migrated_database(infra, "installer", ROOT / "installer/src/aria_installer/migrations")
    settings = settings.model_copy(update={"database_url": database})
    stopped = dataclasses.replace(define(settings), outbox=False)
    async with running_app(create_app(stopped)) as without_relay:
        inst = (await without_relay.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                                         headers=h["admin"])).json()
    conn = await asyncpg.connect(database)
    try:
        waiting = await conn.fetchval("SELECT count(*) FROM outbox WHERE key = $1", inst["id"])
    finally:
        await conn.close()
    assert waiting == 1
    async with KafkaProbe(infra.kafka_bootstrap, LIFECYCLE) as probe:
        async with running_app(create_app(define(settings))):
            await probe.wait_for(lambda e: e.data.get("installation_id") == inst["id"])
            await probe.drain(1.0)
    installed = [e for _, e, _ in probe.seen if e.data.get("installation_id") == inst["id"]]
    assert [e.type for e in installed] == ["installation.installed"]


async def test_list_filters_by_status_and_names_the_integration(client, org):
    _, h = org
    draft = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                               headers=h["admin"])).json()
    other = (await client.post("/v1/installations", json={"integration_key": "generic_webhook"},
                               headers=h["admin"])).json()
    assert draft["integration_name"] == "CrowdStrike Falcon" and "logo_url" in draft
    await client.put(f"/v1/installations/{other['id']}/configuration", headers=h["admin"],
                     json={"config": {"signing_secret": "s" * 32}})

    def ids(page):
        return [i["id"] for i in page.json()["items"]]

    everything = await client.get("/v1/installations", headers=h["viewer"])
    assert set(ids(everything)) == {draft["id"], other["id"]}
    configuring = await client.get("/v1/installations?status=configuring", headers=h["viewer"])
    assert ids(configuring) == [draft["id"]]
    either = await client.get("/v1/installations?status=configuring&status=disabled&limit=1", headers=h["viewer"])
    rest = await client.get(f"/v1/installations?status=configuring&status=disabled&limit=1"
                            f"&cursor={either.json()['next_cursor']}", headers=h["viewer"])
    assert set(ids(either) + ids(rest)) == {draft["id"], other["id"]} and rest.json()["next_cursor"] is None
    assert ids(await client.get("/v1/installations?status=enabled", headers=h["viewer"])) == []
    bad = await client.get("/v1/installations?status=nope", headers=h["viewer"])
    assert bad.status_code == 422


async def test_changing_where_the_secret_goes_requires_the_secrets_again(client, org, database):
    """Issue 17 item 1: a kept secret must not follow a changed base URL / tenant / token URL."""
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "microsoft_defender_endpoint"},
                              headers=h["admin"])).json()
    config = {"tenant_id": "11111111-2222-3333-4444-555555555555", "client_id": "app-1", "client_secret": SECRET,
              "api_url": "https://api.securitycenter.microsoft.com",
              "login_url": "https://login.microsoftonline.com"}
    ok = await client.put(f"/v1/installations/{inst['id']}/configuration", json={"config": config},
                          headers=h["admin"])
    assert ok.status_code == 200, ok.text
    before = await table_dump(database)

    without_secret = {k: v for k, v in config.items() if k != "client_secret"}
    for setting, value in (("api_url", "https://attacker.example"), ("login_url", "https://attacker.example"),
                           ("tenant_id", "99999999-2222-3333-4444-555555555555")):
        moved = await client.put(f"/v1/installations/{inst['id']}/configuration",
                                 json={"config": {**without_secret, setting: value}}, headers=h["admin"])
        assert moved.status_code == 422, moved.text
        assert moved.headers["content-type"].startswith("application/problem+json")
        assert moved.json()["code"] == "secrets_required"
        assert moved.json()["changed_settings"] == [setting] and moved.json()["missing_secrets"] == ["client_secret"]
        assert SECRET not in moved.text
    assert await table_dump(database) == before, "a refused configure must write nothing"

    # Settings that do not decide the destination may still change without the secret ...
    same_place = await client.put(f"/v1/installations/{inst['id']}/configuration",
                                  json={"config": {**without_secret, "client_id": "app-2"}}, headers=h["admin"])
    assert same_place.status_code == 200, same_place.text
    # ... and the destination may change when the secret comes with it.
    moved_with_secret = await client.put(
        f"/v1/installations/{inst['id']}/configuration",
        json={"config": {**config, "api_url": "https://api-eu.securitycenter.microsoft.com"}}, headers=h["admin"])
    assert moved_with_secret.status_code == 200, moved_with_secret.text


async def test_a_configure_whose_postgres_write_fails_keeps_the_previous_credential(
        client, org, database, infra, vault_gateway_url):
    """Issue 17 item 4: the new secret reaches Vault first; when the configuration then fails to
    commit, leases must go on returning the previous secret (all or nothing)."""
    import httpx

    from aria_platform.testing import service_token

    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    ok = await client.put(f"/v1/installations/{inst['id']}/configuration", json={"config": CONFIG}, headers=h["admin"])
    assert ok.status_code == 200, ok.text

    conn = await asyncpg.connect(database)
    try:
        ref = await conn.fetchval("SELECT credential_ref FROM integration_configurations WHERE installation_id = $1",
                                  uuid.UUID(inst["id"]))
        await conn.execute("""
            CREATE FUNCTION refuse_configuration() RETURNS trigger LANGUAGE plpgsql AS
                $$ BEGIN RAISE EXCEPTION 'configuration write fails (test)'; END $$;
            CREATE TRIGGER refuse_configuration BEFORE INSERT ON integration_configurations
                FOR EACH ROW EXECUTE FUNCTION refuse_configuration();""")
        try:
            # The in-process client re-raises what the app leaves unhandled (a server answers 500).
            with pytest.raises(asyncpg.RaiseError):
                await client.put(f"/v1/installations/{inst['id']}/configuration",
                                 json={"config": {**CONFIG, "client_secret": "the-NEW-secret"}}, headers=h["admin"])
        finally:
            await conn.execute("DROP TRIGGER refuse_configuration ON integration_configurations;"
                               "DROP FUNCTION refuse_configuration();")
    finally:
        await conn.close()
    assert (await client.get(f"/v1/installations/{inst['id']}", headers=h["admin"])).json()["config_version"] == 1

    async with httpx.AsyncClient(base_url=vault_gateway_url) as vault_gateway:
        lease = await vault_gateway.post(f"/internal/v1/credentials/{ref}/lease", json={"installation_id": inst["id"]},
                                         headers=bearer(service_token(infra, "sync-runner")))
    assert lease.status_code == 200, lease.text
    assert lease.json()["secrets"] == {"client_secret": SECRET}, "the installation keeps its previous credential"


async def test_unstorable_text_and_crafted_cursors_are_4xx(client, org, database):
    """Issue 17 item 6: NUL bytes and lone surrogates in a configuration, and cursors this API never
    issued, are clear 4xx problems (they were 500s), and a refused configure stores nothing."""
    import base64

    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    url = f"/v1/installations/{inst['id']}/configuration"
    for config in ({**CONFIG, "client_id": "nul\x00byte"}, {**CONFIG, "client_secret": "lone\ud800surrogate"},
                   {**CONFIG, "nested\x00key": "x"}):
        # json.dumps escapes the surrogate as \ud800, as an attacker's client would send it.
        refused = await client.put(url, content=json.dumps({"config": config}),
                                   headers={**h["admin"], "content-type": "application/json"})
        assert refused.status_code == 422 and refused.json()["code"] == "invalid_text", refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await client.get(f"/v1/installations/{inst['id']}", headers=h["admin"])).json()["config_version"] is None

    def crafted(values) -> str:
        return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")

    for path, values in (("/v1/installations", [1, 2]), ("/v1/installations", ["2026-01-01T00:00:00+00:00", 7]),
                         ("/v1/installations", ["\x00", "x"]),
                         (f"/v1/installations/{inst['id']}/activity", ["x"]),
                         (f"/v1/installations/{inst['id']}/activity", [2**70]),
                         (f"/v1/installations/{inst['id']}/activity", [True])):
        answer = await client.get(path, params={"cursor": crafted(values)}, headers=h["viewer"])
        assert answer.status_code == 400 and answer.json()["code"] == "invalid_cursor", (path, values, answer.text)


async def test_an_over_long_url_is_refused_without_echoing_it(client, org):
    """Issue 17 item 6: a 100,000-character base URL was accepted (and failed later, at the vendor)."""
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()
    long_url = "https://api.crowdstrike.com/" + "a" * 100_000
    refused = await client.put(f"/v1/installations/{inst['id']}/configuration",
                               json={"config": {**CONFIG, "base_url": long_url}}, headers=h["admin"])
    assert refused.status_code == 422 and refused.json()["code"] == "config_invalid", refused.text[:500]
    assert refused.json()["errors"] == [{"field": "base_url", "message": "not a valid uri: longer than 2048 characters"}]
    assert len(refused.text) < 2000, "the value is not echoed"
