"""Issue 5: the installer crashes between committing a state change and publishing its event;
the event still arrives, exactly once.

What is simulated, and how:
* An installer process (A) runs against a *scratch* Kafka broker - a real second broker that
  this test owns - and its own fresh database. Once A is ready the scratch broker is SIGKILLed,
  so from then on A's outbox relay cannot publish anything: its API calls still commit (the
  state change and the outbox row, one transaction) and answer, and the rows wait.
* A is SIGKILLed after the API calls returned - no shutdown hook runs, as in a crash or an OOM
  kill. Postgres rolls back whatever the relay had open; the committed rows stay.
* A new installer process (B) starts on the same database with the shared Kafka. Its relay
  publishes what A left behind. A probe on the shared Kafka must see each event exactly once.

Nothing is mocked: both processes are `aria-installer serve`; the only thing taken away is A's
Kafka, for real.
"""

from __future__ import annotations

import signal
import subprocess
import uuid

import asyncpg
import httpx

from aria_platform.testing import KafkaProbe, bearer, create_database, free_port, user_token
from aria_platform.topics import ensure_topics
from tests.support import BIN, scratch_kafka, service_env, start_service, stop

KEYS = ("crowdstrike_falcon", "generic_webhook", "tenable_vm")


async def _outbox(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT event_id, event_type FROM outbox ORDER BY id")
    finally:
        await conn.close()


async def test_event_committed_but_not_published_arrives_once_after_a_crash(platform, infra, tmp_path):
    database = await create_database(infra, "installer-crash")
    log = tmp_path / "installer.log"
    env_a = service_env(infra, platform.urls, database_url=database, port=free_port())
    subprocess.run([str(BIN / "aria-installer"), "migrate"], env=env_a, check=True,
                   capture_output=True)
    org_id = uuid.uuid4()
    admin = bearer(user_token(infra, org_id=org_id, role="admin"))

    with scratch_kafka(tmp_path / "kafka") as (scratch, broker):
        await ensure_topics(scratch)
        installer_a = start_service("installer", {**env_a, "ARIA_KAFKA_BOOTSTRAP": scratch}, log)
        try:
            broker.send_signal(signal.SIGKILL)  # A's Kafka is gone from here on
            broker.wait()
            async with KafkaProbe(infra.kafka_bootstrap, "aria.installation.lifecycle") as probe:
                async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(keepalive_expiry=2.0)) as api:
                    created = [await api.post(f"http://127.0.0.1:{env_a['ARIA_HTTP_PORT']}/v1/installations",
                                              json={"integration_key": key}, headers=admin) for key in KEYS]
                assert [r.status_code for r in created] == [201] * len(KEYS), [r.text for r in created]
                ids = {r.json()["id"] for r in created}
                waiting = await _outbox(database)
                assert [r["event_type"] for r in waiting] == ["installation.installed"] * len(KEYS)
                installer_a.send_signal(signal.SIGKILL)  # the crash: after commit, before any publish
                installer_a.wait()
                # Committed and not published: the rows survived the crash, nothing reached Kafka.
                assert [r["event_id"] for r in await _outbox(database)] == [r["event_id"] for r in waiting]
                await probe.drain(1.0)
                assert [e for _, e, _ in probe.seen if str(e.installation_id) in ids] == []

                installer_b = start_service("installer", service_env(infra, platform.urls, database_url=database,
                                                                     port=free_port()), log)
                try:
                    await probe.wait_for(lambda e: str(e.installation_id) in ids, count=len(ids), timeout=30)
                    await probe.drain(3.0)  # anything published twice would show up by now
                finally:
                    stop(installer_b)
        finally:
            stop(installer_a, signal.SIGKILL)

    ours = [e for _, e, _ in probe.seen if str(e.installation_id) in ids]
    assert sorted(str(e.event_id) for e in ours) == sorted(str(r["event_id"]) for r in waiting)
    assert sorted(str(e.installation_id) for e in ours) == sorted(ids)
    assert all(e.type == "installation.installed" and e.org_id == org_id for e in ours)
    assert await _outbox(database) == []
