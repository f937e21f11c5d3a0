"""Try demo: a sandbox installation against the connector's simulator, marked demo, next to a
real installation, thrown away by uninstalling it; off unless configured, local only."""

import pytest
from pydantic import ValidationError

from aria_installer.settings import InstallerSettings
from aria_platform.testing import KafkaProbe

SIMULATOR = {"base_url": "http://127.0.0.1:9101", "client_id": "demo-client-id", "client_secret": "demo-SECRET-9e1"}


@pytest.fixture(scope="module")
def settings(infra, database, vault_gateway_url):
    return InstallerSettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                             vault_gateway_url=vault_gateway_url, outbox_poll_interval_s=0.2,
                             demo_configs={"crowdstrike_falcon": SIMULATOR})


async def test_try_demo_opens_a_marked_sandbox_and_throws_it_away(client, org, infra, database):
    _, h = org
    listed = await client.get("/v1/installations/demos", headers=h["viewer"])
    assert listed.status_code == 200 and listed.json() == {"integration_keys": ["crowdstrike_falcon"]}
    assert (await client.post("/v1/installations/demos", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["operator"])).status_code == 403
    missing = await client.post("/v1/installations/demos", json={"integration_key": "qualys_vmdr"},
                                headers=h["admin"])
    assert missing.status_code == 404 and missing.json()["code"] == "demo_unavailable"

    async with KafkaProbe(infra.kafka_bootstrap, "aria.installation.lifecycle", "aria.sync.requested") as probe:
        opened = await client.post("/v1/installations/demos", json={"integration_key": "crowdstrike_falcon"},
                                   headers=h["admin"])
        assert opened.status_code == 201, opened.text
        demo = opened.json()
        requested = await probe.wait_for(lambda e: e.type == "sync.requested" and e.data["installation_id"] == demo["id"])
        installed = [e for _, e, _ in probe.seen if e.type == "installation.installed"
                     and e.data["installation_id"] == demo["id"]]
    assert demo["demo"] is True and demo["status"] == "enabled" and demo["secret_fields"] == ["client_secret"]
    assert demo["settings"]["base_url"] == SIMULATOR["base_url"] and SIMULATOR["client_secret"] not in opened.text
    assert requested[0].data["sync_type"] == "full"
    assert installed and installed[0].data["demo"] is True

    again = await client.post("/v1/installations/demos", json={"integration_key": "crowdstrike_falcon"},
                              headers=h["admin"])
    assert again.status_code == 200 and again.json()["id"] == demo["id"]
    # The real installation lives next to the demo.
    real = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"}, headers=h["admin"])
    assert real.status_code == 201 and real.json()["demo"] is False and real.json()["id"] != demo["id"]

    assert (await client.delete(f"/v1/installations/{demo['id']}", headers=h["admin"])).status_code == 204
    items = (await client.get("/v1/installations", headers=h["viewer"])).json()["items"]
    assert [(i["id"], i["demo"]) for i in items] == [(real.json()["id"], False)]


def test_demos_are_off_by_default_and_local_only(infra, database):
    assert InstallerSettings(database_url=database, jwt_secret="x").demo_configs == {}
    with pytest.raises(ValidationError, match="local stack only"):
        InstallerSettings(database_url=database, jwt_jwks_url="https://issuer.example/jwks",
                          demo_configs={"crowdstrike_falcon": SIMULATOR})
