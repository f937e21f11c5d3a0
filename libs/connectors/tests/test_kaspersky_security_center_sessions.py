"""Kaspersky Security Center's accessor reader (vendors/kaspersky_security_center/connector.py)
against its simulator: a run stopped after a chunk resumes on the same accessor; an accessor the
server forgot (and an ended session) restarts the result set from the checkpoint, losing nothing."""

from __future__ import annotations

import uuid

import httpx

from aria_connectors import registry
from aria_connectors.sdk import InstallationContext, RuntimeOptions, drain_sync
from aria_connector_testkit.simulators import create_app
from aria_connector_testkit.testing import SimulatorServer

KSC = registry.get("kaspersky_security_center")


def instance(url: str, http: httpx.AsyncClient):
    st, se = KSC.split_config({"base_url": url, "username": "api-user", "password": "demo-password"})
    return KSC.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), "kaspersky_security_center"), st, se, http,
                      options=RuntimeOptions(page_size=4))


def keeper(into: list):
    async def keep(batch) -> None:
        into.extend(e.provenance.external_id for e in batch.events)
    return keep


async def first_batch(inst) -> tuple[list, dict]:
    async for batch in inst.sync(None, uuid.uuid4()):
        return [e.provenance.external_id for e in batch.events], batch.checkpoint
    raise AssertionError("no batch")


async def test_resume_on_the_accessor_and_restart_when_it_is_forgotten():
    app = create_app("kaspersky_security_center", records=10)
    sim = app.state.simulator
    with SimulatorServer(app) as server:
        async with httpx.AsyncClient() as http:
            seen, checkpoint = await first_batch(instance(server.url, http))
            pending = checkpoint["streams"]["hosts"]["pending"]
            assert len(seen) == 4 and pending["start"] == 4 and pending["count"] == 10
            rest = []
            result = await drain_sync(instance(server.url, http), checkpoint, uuid.uuid4(),
                                      on_batch=keeper(rest))
            assert sorted(seen + rest) == sorted({str(r["value"]["KLHST_WKS_HOSTNAME"]) for r in sim.data.records["hosts"]})
            assert len(sim.accessors) == 1  # the resumed run read the first run's result set on
            sim.accessors.clear()  # lMaxLifeTime passed
            sim.expire_tokens()  # and the session ended
            again = []
            await drain_sync(instance(server.url, http), checkpoint, uuid.uuid4(),
                             on_batch=keeper(again))
            assert set(seen + again) >= set(rest) and set(again) >= set(rest)
            assert result.failed == 0
