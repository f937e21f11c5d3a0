"""Installer test fixtures: real Postgres, Kafka and OpenBao; the real vault-gateway over HTTP
(test-only import); the installer in-process with its outbox relay and subscribers."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from aria_installer.main import define
from aria_installer.settings import InstallerSettings
from aria_platform.app import create_app
from aria_platform.testing import bearer, migrated_database, running_app, serving, user_token

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
async def vault_gateway_url(infra, kafka_topics):
    from aria_vault_gateway.main import define as define_vault_gateway
    from aria_vault_gateway.settings import VaultGatewaySettings

    db = await migrated_database(infra, "vault_gateway", ROOT / "vault-gateway/src/aria_vault_gateway/migrations")
    settings = VaultGatewaySettings(database_url=db, kafka_bootstrap=infra.kafka_bootstrap, vault_addr=infra.vault_addr,
                                    vault_role_id=infra.vault_role_id, vault_secret_id=infra.vault_secret_id,
                                    jwt_secret=infra.jwt_secret, outbox_poll_interval_s=0.2)
    async with serving(create_app(define_vault_gateway(settings))) as url:
        yield url


@pytest.fixture(scope="module")
async def database(infra, kafka_topics):
    return await migrated_database(infra, "installer", ROOT / "installer/src/aria_installer/migrations")


@pytest.fixture(scope="module")
def settings(infra, database, vault_gateway_url):
    return InstallerSettings(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                             vault_gateway_url=vault_gateway_url, outbox_poll_interval_s=0.2)


@pytest.fixture(scope="module")
async def client(settings):
    async with running_app(create_app(define(settings))) as c:
        yield c


@pytest.fixture
def org(infra):
    org_id = uuid.uuid4()
    return org_id, {role: bearer(user_token(infra, org_id=org_id, role=role)) for role in ("viewer", "operator", "admin")}
