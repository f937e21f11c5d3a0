"""Log retention (aria_platform.retention, as the installer declares it): a periodic purge removes
entries older than the retention, keeps the rest, in batches; the retention is bounded."""

import asyncio
import dataclasses
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from pydantic import ValidationError

from aria_installer.main import define
from aria_platform.app import INBOX, create_app
from aria_platform.retention import LogTable, purge
from aria_platform.testing import migrated_database, running_app

MIGRATIONS = Path(__file__).parents[1] / "src/aria_installer/migrations"


async def test_entries_older_than_the_retention_are_purged_periodically(infra, settings, org):
    _, h = org
    database = await migrated_database(infra, "installer", MIGRATIONS)
    quick = settings.model_copy(update={"database_url": database, "retention_days": 30,
                                        "retention_interval_s": 0.2})
    # No subscribers, no relay: only the purge loop matters here.
    service = dataclasses.replace(define(quick), kafka_routers=(), outbox=False)
    conn = await asyncpg.connect(database)
    try:
        async with running_app(create_app(service)) as client:
            inst = (await client.post("/v1/installations", json={"integration_key": "crowdstrike_falcon"},
                                      headers=h["admin"])).json()["id"]
            await client.post(f"/v1/installations/{inst}/mappings/reset", headers=h["admin"])
            await client.post(f"/v1/installations/{inst}/mappings/reset", headers=h["admin"])
            ids = [r["id"] for r in await conn.fetch(
                "SELECT id FROM integration_activity_logs WHERE installation_id = $1 ORDER BY id", uuid.UUID(inst))]
            assert len(ids) == 3
            await conn.execute("UPDATE integration_activity_logs SET created_at = now() - interval '31 days' "
                               "WHERE id = $1", ids[0])
            await conn.execute("UPDATE integration_activity_logs SET created_at = now() - interval '29 days' "
                               "WHERE id = $1", ids[1])
            deadline = time.monotonic() + 10
            while await conn.fetchval("SELECT count(*) FROM integration_activity_logs WHERE id = $1", ids[0]):
                assert time.monotonic() < deadline, "the purge loop never ran"
                await asyncio.sleep(0.1)
            left = [a["id"] for a in (await client.get(f"/v1/installations/{inst}/activity",
                                                       headers=h["viewer"])).json()["items"]]
            assert left == [ids[2], ids[1]]
    finally:
        await conn.close()


async def test_a_large_backlog_is_purged_in_batches(infra):
    database = await migrated_database(infra, "installer", MIGRATIONS)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(
            """INSERT INTO integration_activity_logs (installation_id, org_id, activity_type, status, actor, message,
                                                      created_at)
               SELECT gen_random_uuid(), gen_random_uuid(), 'sync', 'info', 't', 'm', now() - interval '100 days'
               FROM generate_series(1, 25)""")
        pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
        try:
            activity = (LogTable("integration_activity_logs", "created_at"),)
            assert await purge(pool=pool, tables=activity, retention_days=90, batch=10) == \
                {"integration_activity_logs": 25}
            assert await purge(pool=pool, tables=activity, retention_days=90, batch=10) == \
                {"integration_activity_logs": 0}
        finally:
            await pool.close()
        assert await conn.fetchval("SELECT count(*) FROM integration_activity_logs") == 0
    finally:
        await conn.close()


async def test_the_inbox_is_purged_too_and_only_rows_that_may_go(infra):
    database = await migrated_database(infra, "installer", MIGRATIONS)
    conn = await asyncpg.connect(database)
    try:
        await conn.execute("""INSERT INTO processed_events (consumer, dedup_key, processed_at)
                              VALUES ('c', 'old', now() - interval '91 days'), ('c', 'new', now())""")
        await conn.execute(
            """INSERT INTO integration_activity_logs (installation_id, org_id, activity_type, status, actor, message,
                                                      created_at)
               VALUES (gen_random_uuid(), gen_random_uuid(), 'sync', 'failure', 't', 'kept', now() - interval '100 days'),
                      (gen_random_uuid(), gen_random_uuid(), 'sync', 'info', 't', 'gone', now() - interval '100 days')""")
        pool = await asyncpg.create_pool(database, min_size=1, max_size=2)
        try:
            only_info = LogTable("integration_activity_logs", "created_at", purgeable="status = 'info'")
            assert await purge(pool=pool, tables=(INBOX, only_info), retention_days=90) == \
                {"processed_events": 1, "integration_activity_logs": 1}
        finally:
            await pool.close()
        assert await conn.fetchval("SELECT array_agg(dedup_key) FROM processed_events") == ["new"]
        assert await conn.fetchval("SELECT array_agg(message) FROM integration_activity_logs") == ["kept"]
    finally:
        await conn.close()


def test_retention_is_at_least_a_day_and_at_most_two_years(settings):
    for days in (0, 731):
        with pytest.raises(ValidationError):
            type(settings).model_validate({**settings.model_dump(), "retention_days": days})
    assert type(settings).model_validate({**settings.model_dump(), "retention_days": 730}).retention_days == 730
