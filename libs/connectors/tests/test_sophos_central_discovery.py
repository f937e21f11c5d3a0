"""Sophos Central's whoami hook (vendors/sophos_central/connector.py) against its simulator: a
partner or organization credential reads the configured tenant's data region; without a tenant id
it is a configuration error."""

from __future__ import annotations

import uuid

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.errors import ConfigurationError
from aria_connectors.sdk import InstallationContext, drain_sync
from aria_connector_testkit.simulators import create_app
from aria_connector_testkit.testing import SimulatorServer

SOPHOS = registry.get("sophos_central")
TENANT = "0afef0e6-5df7-4cc0-b8d4-068cfd6820d1"


def instance(url: str, http: httpx.AsyncClient, **settings):
    config = {"client_id": "demo-client-id", "client_secret": "demo-client-secret",
              "auth_url": f"{url}/api/v2/oauth2/token", "api_url": url, **settings}
    st, se = SOPHOS.split_config(config)
    return SOPHOS.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), "sophos_central"), st, se, http)


@pytest.mark.parametrize("id_type", ["partner", "organization"])
async def test_partner_and_organization_credentials_read_the_chosen_tenant(id_type):
    with SimulatorServer(create_app("sophos_central", id_type=id_type, tenant_id=TENANT, records=6)) as server:
        async with httpx.AsyncClient() as http:
            inst = instance(server.url, http, tenant_id=TENANT)
            result = await drain_sync(inst)
            assert result.created == 12 and result.failed == 0
            assert inst.api.default_headers["X-Tenant-ID"] == TENANT
            with pytest.raises(ConfigurationError):
                await drain_sync(instance(server.url, http))  # a partner credential names no tenant
            wrong = await instance(server.url, http, tenant_id=str(uuid.uuid4())).test_connection()
            assert not wrong.ok and wrong.error_class == "permanent"
