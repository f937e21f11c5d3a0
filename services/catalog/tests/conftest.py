"""Fixtures for catalog tests: a migrated database, a running app, synthetic registry entries."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from aria_catalog.main import define
from aria_catalog.settings import CatalogSettings
from aria_platform.app import create_app
from aria_platform.testing import bearer, migrated_database, running_app, user_token

MIGRATIONS = Path(__file__).parents[1] / "src/aria_catalog/migrations"


def settings_for(infra, database: str, **overrides) -> CatalogSettings:
    values = dict(database_url=database, kafka_bootstrap=infra.kafka_bootstrap, jwt_secret=infra.jwt_secret,
                  outbox_poll_interval_s=0.2, registry_sync_on_start=False)
    values.update(overrides)
    return CatalogSettings(**values)


def entry(key: str, name: str, vendor: str, **overrides: Any) -> dict[str, Any]:
    """A registry catalog entry shaped like Manifest.catalog_entry()."""
    base = {
        "key": key, "name": name, "vendor": vendor, "product": None, "category": "edr",
        "description": f"{name} integration.", "version": "1.0.0", "documentation_url": None,
        "support_url": None, "icon_url": None, "pricing_model": "vendor_license", "official": True,
        "community": False, "beta": False, "deprecated": False, "installation_complexity": "low",
        "capabilities": ["sync", "test_connection"], "data_types": ["asset"],
        "auth_methods": ["api_key"], "streams": ["items"], "supports_webhook": False,
        "rate_limits": {"requests_per_minute": 600},
        "config_schema": {"type": "object", "required": ["base_url", "api_key"], "properties": {
            "base_url": {"type": "string", "format": "uri", "title": "API base URL",
                         "default": "https://api.example.com"},
            "api_key": {"type": "string", "title": "API key", "x-secret": True},
            "page_size": {"type": "integer", "default": 100}}},
        "secret_fields": ["api_key"],
    }
    base.update(overrides)
    return base


async def new_database(infra) -> str:
    return await migrated_database(infra, "catalog", MIGRATIONS)


def as_user(infra, org_id: uuid.UUID, role: str = "viewer") -> dict[str, str]:
    return bearer(user_token(infra, org_id=org_id, role=role))


def app_client(infra, database: str, **overrides):
    """Async context manager: the catalog app (lifespan included) running against `database`."""
    app = create_app(define(settings_for(infra, database, **overrides)))
    return app, running_app(app)


class Helpers:
    entry = staticmethod(entry)
    new_database = staticmethod(new_database)
    as_user = staticmethod(as_user)
    app_client = staticmethod(app_client)


@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    """Helpers as a fixture: test modules cannot import conftest under --import-mode=importlib."""
    return Helpers


@pytest.fixture
def org() -> uuid.UUID:
    """A fresh organization per test."""
    return uuid.uuid4()
