"""Sync settings: frequency and auto sync; an enabled installation is re-announced so sync-runner reschedules."""

from aria_platform.testing import KafkaProbe

LIFECYCLE = "aria.installation.lifecycle"
CONFIG = {"base_url": "http://127.0.0.1:9", "client_id": "client-1", "client_secret": "sync-settings-secret"}


async def test_sync_settings_change_reannounces_an_enabled_installation(client, org, infra):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()["id"]
    url = f"/v1/installations/{inst}/sync-settings"
    assert (await client.get(url, headers=h["viewer"])).json() == {"sync_frequency": "daily", "auto_sync": True}
    await client.put(f"/v1/installations/{inst}/configuration", json={"config": CONFIG}, headers=h["admin"])

    def mine(e):
        return e.installation_id is not None and str(e.installation_id) == inst

    async with KafkaProbe(infra.kafka_bootstrap, LIFECYCLE) as probe:
        # Disabled: stored, nothing to reschedule.
        quiet = await client.put(url, json={"sync_frequency": "weekly", "auto_sync": True}, headers=h["admin"])
        assert quiet.status_code == 200 and quiet.json()["sync_frequency"] == "weekly"
        await client.post(f"/v1/installations/{inst}/enable", headers=h["admin"])
        first = await probe.wait_for(lambda e: mine(e) and e.type == "installation.enabled")
        assert first[0].data["sync_frequency"] == "weekly" and first[0].data["auto_sync"] is True

        changed = await client.put(url, json={"sync_frequency": "hourly", "auto_sync": False}, headers=h["admin"])
        assert changed.status_code == 200 and changed.json() == {"sync_frequency": "hourly", "auto_sync": False}
        enabled = await probe.wait_for(lambda e: mine(e) and e.type == "installation.enabled", count=2)
        same = await client.put(url, json={"sync_frequency": "hourly", "auto_sync": False}, headers=h["admin"])
        assert same.status_code == 200
        await probe.drain(1.5)
    assert [e.type for _, e, _ in probe.seen if mine(e)] == ["installation.enabled", "installation.enabled"], \
        "an unchanged PUT announces nothing"
    latest = enabled[1]
    assert latest.data["sync_frequency"] == "hourly" and latest.data["auto_sync"] is False
    assert latest.data["revision"] > enabled[0].data["revision"] and latest.data["credential_ref"]

    log = (await client.get(f"/v1/installations/{inst}/activity?type=sync_settings", headers=h["viewer"])).json()
    assert [a["details"]["after"]["sync_frequency"] for a in log["items"]] == ["hourly", "weekly"]
    installation = (await client.get(f"/v1/installations/{inst}", headers=h["viewer"])).json()
    assert installation["sync_frequency"] == "hourly" and installation["auto_sync"] is False


async def test_bad_sync_settings_are_422_and_need_admin(client, org):
    _, h = org
    inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])).json()["id"]
    url = f"/v1/installations/{inst}/sync-settings"
    bad = await client.put(url, json={"sync_frequency": "every minute", "auto_sync": True}, headers=h["admin"])
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    assert (await client.put(url, json={"sync_frequency": "hourly", "auto_sync": True},
                             headers=h["operator"])).status_code == 403
    assert (await client.get(url, headers=h["viewer"])).json() == {"sync_frequency": "daily", "auto_sync": True}
