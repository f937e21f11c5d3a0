"""Dev sign-in (local stack only): the token it mints is accepted, its role enforced; off by default."""

from __future__ import annotations

import uuid

import pytest

from aria_installer.main import define
from aria_installer.settings import InstallerSettings
from aria_platform.app import create_app
from aria_platform.testing import bearer, running_app


async def test_off_by_default(client):
    response = await client.post("/v1/dev/sign-in", json={"role": "admin"})
    assert response.status_code == 404


def test_refused_with_jwks(settings):
    with pytest.raises(ValueError, match="dev_signin"):
        InstallerSettings(**{**settings.model_dump(), "jwt_secret": None, "jwt_jwks_url": "https://idp/jwks",
                             "dev_signin": True})


async def test_token_for_the_chosen_role_and_org(settings):
    org = uuid.uuid4()
    app = create_app(define(settings.model_copy(update={"dev_signin": True})))
    async with running_app(app) as client:
        demo = (await client.post("/v1/dev/sign-in", json={"role": "viewer"})).json()
        assert demo["org_id"] == "00000000-0000-4000-8000-00000000de70" and demo["role"] == "viewer"

        viewer = (await client.post("/v1/dev/sign-in", json={"role": "viewer", "org_id": str(org)})).json()
        admin = (await client.post("/v1/dev/sign-in", json={"role": "admin", "org_id": str(org)})).json()
        assert (await client.get("/v1/installations", headers=bearer(viewer["access_token"]))).status_code == 200
        refused = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                                    headers=bearer(viewer["access_token"]))
        assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role"
        installed = await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                                      headers=bearer(admin["access_token"]))
        assert installed.status_code == 201

        bad = await client.post("/v1/dev/sign-in", json={"role": "root"})
        assert bad.status_code == 422
