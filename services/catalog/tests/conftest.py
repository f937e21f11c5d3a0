"""Fixtures for catalog tests: a migrated database, a running app, synthetic registry entries."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from aria_catalog.main import define
from aria_catalog.registry_sync import service as registry_sync
from aria_catalog.settings import CatalogSettings
from aria_platform.app import create_app
from aria_contracts import Envelope
from aria_platform.kafka import encode, headers_for
from aria_platform.testing import bearer, migrated_database, running_app, service_token, user_token

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


def as_user(infra, org_id: uuid.UUID, role: str = "viewer", subject: str | None = None) -> dict[str, str]:
    return bearer(user_token(infra, org_id=org_id, role=role, subject=subject))


def as_service(infra, service: str) -> dict[str, str]:
    return bearer(service_token(infra, service))


@asynccontextmanager
async def catalog(infra, entries: list[dict[str, Any]]):
    """A fresh database synced from `entries`, the app running on it: yields (client, pool, database URL)."""
    database = await new_database(infra)
    app, client_cm = app_client(infra, database)
    async with client_cm as client:
        pool = app.state.runtime.pool
        await registry_sync.sync_catalog(pool=pool, entries=entries)
        yield client, pool, database


async def fetchval(database: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(database)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def eventually(fn, expected, timeout: float = 30.0):
    """Poll `fn` until it returns `expected` (or time runs out); returns the last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await fn()
        if value == expected or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def consumed(infra, group: str, topic: str, partition: int, offset: int, timeout: float = 30.0) -> bool:
    """True once consumer group `group` has committed past `offset` (it processed that record)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        tp = TopicPartition(topic, partition)
        while asyncio.get_running_loop().time() < deadline:
            meta = (await admin.list_consumer_group_offsets(group, partitions=[tp])).get(tp)
            if meta is not None and meta.offset > offset:
                return True
            await asyncio.sleep(0.2)
        return False
    finally:
        await admin.close()


class Publisher:
    """Publishes envelopes as the producing service would (key, trace headers, acks=all)."""

    def __init__(self, infra):
        self._producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")

    async def __aenter__(self) -> "Publisher":
        await self._producer.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self._producer.stop()

    async def publish(self, topic: str, envelope: Envelope) -> tuple[int, int]:
        meta = await self._producer.send_and_wait(
            topic, encode(envelope), key=envelope.key.encode(),
            headers=[(k, v.encode()) for k, v in headers_for(envelope).items()])
        return meta.partition, meta.offset


def app_client(infra, database: str, **overrides):
    """Async context manager: the catalog app (lifespan included) running against `database`."""
    app = create_app(define(settings_for(infra, database, **overrides)))
    return app, running_app(app)


async def problem(response, status: int, code: str) -> dict:
    """Assert a problem+json answer with this status and code; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()
    return response.json()


class Helpers:
    entry = staticmethod(entry)
    new_database = staticmethod(new_database)
    as_user = staticmethod(as_user)
    as_service = staticmethod(as_service)
    app_client = staticmethod(app_client)
    catalog = staticmethod(catalog)
    fetchval = staticmethod(fetchval)
    eventually = staticmethod(eventually)
    consumed = staticmethod(consumed)
    Publisher = Publisher
    problem = staticmethod(problem)



@pytest.fixture(scope="session")
def h() -> type[Helpers]:
    """Helpers as a fixture: test modules cannot import conftest under --import-mode=importlib."""
    return Helpers


@pytest.fixture
def org() -> uuid.UUID:
    """A fresh organization per test."""
    return uuid.uuid4()
