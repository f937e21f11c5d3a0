"""SDK behaviour beyond the shared suite, over real HTTP against the CrowdStrike simulator
started with adversarial options (timestamp plateaus, short tokens, tiny rate budgets)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.errors import ConnectorError
from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connector_testkit.simulators import create_app
from aria_connector_testkit.testing import SimulatorControl, SimulatorServer

FAST = dict(max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05, max_retry_after_seconds=5)
CS = registry.get("crowdstrike_falcon")
CTX = InstallationContext(org_id=uuid.uuid4(), installation_id=uuid.uuid4(), integration_key="crowdstrike_falcon")


def instance(url: str, http: httpx.AsyncClient, **options):
    return CS.create(CTX, {"base_url": url, "client_id": "demo-client-id"},
                     {"client_secret": "demo-client-secret"}, http, options=RuntimeOptions(**{**FAST, **options}))


async def run(inst, checkpoint=None, stop_after=None):
    batches = []
    async for b in inst.sync(checkpoint, None):
        batches.append(b)
        if stop_after and len(batches) >= stop_after:
            break
    return batches


@pytest.fixture
def sim(request):
    options = getattr(request, "param", {})
    with SimulatorServer(create_app("crowdstrike_falcon", **options)) as server:
        control = SimulatorControl(server.url)
        yield server.url, control
        control.close()


@pytest.mark.parametrize("sim", [{"records": 40, "per_timestamp": 7}], indirect=True)
@pytest.mark.parametrize("page_size", [1, 3, 7, 8])
async def test_timestamp_plateaus_wider_than_a_page(sim, page_size):
    """7 records share each timestamp; pages of 1/3/7/8 cut plateaus everywhere. Resuming
    from every single batch's checkpoint must still yield each record exactly once."""
    url, control = sim
    async with httpx.AsyncClient() as http:
        full = await run(instance(url, http, page_size=page_size))
        all_ids = sorted(e.provenance.external_id for b in full for e in b.events)
        assert len(all_ids) == len(set(all_ids)) == 80
        checkpoint, seen = None, []
        while True:  # resume after every batch
            batches = await run(instance(url, http, page_size=page_size), checkpoint, stop_after=1)
            if not batches or not batches[0].events:
                break
            seen.extend(e.provenance.external_id for e in batches[0].events)
            checkpoint = batches[0].checkpoint
        assert sorted(seen) == all_ids
        added = control.add_records("alerts", 9)["added"]
        new = await run(instance(url, http, page_size=page_size), full[-1].checkpoint)
        assert sorted(e.provenance.external_id for b in new for e in b.events) == sorted(added)


@pytest.mark.parametrize("sim", [{"records": 6, "token_ttl": 1}], indirect=True)
async def test_token_refreshed_before_expiry(sim):
    url, control = sim
    async with httpx.AsyncClient() as http:
        inst = instance(url, http)
        assert (await inst.test_connection()).ok
        await asyncio.sleep(1.0)
        assert (await inst.test_connection()).ok
        assert control.state()["tokens_issued"] == 2
        # and no 401 was needed: the refresh happened before the token expired
        assert inst.api.auth.token_fetches == 2


@pytest.mark.parametrize("sim", [{"records": 3, "rate_limit": 4, "rate_window_seconds": 1}], indirect=True)
async def test_rate_budget_exhaustion_waits_for_window(sim):
    url, control = sim
    async with httpx.AsyncClient() as http:
        inst = instance(url, http, page_size=2)
        start = time.monotonic()
        batches = await run(inst)
        assert sum(len(b.events) for b in batches) == 6
        assert control.state()["requests"]  # simulator really saw the calls
        assert time.monotonic() - start >= 1.0  # at least one window had to be waited out
        health = await instance(url, http).health_check()
        assert health.status in ("healthy", "degraded")


@pytest.mark.parametrize("sim", [{"records": 5}], indirect=True)
async def test_error_classification(sim):
    url, control = sim
    async with httpx.AsyncClient() as http:
        bad = CS.create(CTX, {"base_url": url, "client_id": "demo-client-id"}, {"client_secret": "nope"}, http,
                        options=RuntimeOptions(**FAST))
        with pytest.raises(ConnectorError) as info:
            await run(bad)
        assert info.value.error_class == "authentication" and "nope" not in str(info.value)

        inst = instance(url, http)
        assert (await inst.test_connection()).ok
        control.faults(503, 10)
        result = await inst.test_connection()
        assert not result.ok and result.error_class == "transient"
        control.clear_faults()

        # a 4xx other than 401/403/429 is permanent and not retried
        resp = await inst.api.request("GET", "/alerts/queries/alerts/v2", params={"limit": 1}, what="probe")
        assert resp.status_code == 200
        with pytest.raises(ConnectorError) as info:
            await inst.api.request("GET", "/alerts/queries/alerts/v2", params={"limit": 20000}, what="probe")
        assert info.value.error_class == "permanent" and info.value.status_code == 400

        # a 429 asking for longer than we accept is transient, immediately
        control.faults(429, 1, retry_after=60)
        with pytest.raises(ConnectorError) as info:
            await inst.api.request("GET", "/devices/queries/devices/v1")
        assert info.value.error_class == "transient" and info.value.status_code == 429


@pytest.mark.parametrize("sim", [{"records": 5}], indirect=True)
async def test_rate_limit_waits_do_not_use_up_the_5xx_retries(sim):
    """A vendor throttling and then failing briefly: each has its own retry budget (max_retries=2)."""
    url, control = sim
    async with httpx.AsyncClient() as http:
        inst = instance(url, http)
        assert (await inst.test_connection()).ok  # token fetched: the faults below hit the API call
        control.faults(429, 2, retry_after=0)
        control.faults(503, 2)
        resp = await inst.api.request("GET", "/devices/queries/devices/v1", params={"limit": 1}, what="probe")
        assert resp.status_code == 200


@pytest.mark.parametrize("sim", [{"records": 5}], indirect=True)
async def test_a_call_waits_out_more_429s_than_5xx_retries(sim):
    """A vendor budget shared with other clients can refuse one call many windows in a row: those
    429s are waited out past max_retries (2 here), up to max_throttled_retries, then transient."""
    url, control = sim
    async with httpx.AsyncClient() as http:
        inst = instance(url, http)
        assert (await inst.test_connection()).ok  # token fetched: the faults below hit the API call
        control.faults(429, 6, retry_after=0)
        resp = await inst.api.request("GET", "/devices/queries/devices/v1", params={"limit": 1}, what="probe")
        assert resp.status_code == 200

        impatient = instance(url, http, rate_limits={"max_throttled_retries": 3})
        assert (await impatient.test_connection()).ok
        control.faults(429, 4, retry_after=0)
        with pytest.raises(ConnectorError) as info:
            await impatient.api.request("GET", "/devices/queries/devices/v1", params={"limit": 1}, what="probe")
        assert info.value.error_class == "transient" and info.value.status_code == 429


async def test_unreachable_vendor_is_transient():
    async with httpx.AsyncClient() as http:
        inst = instance("http://127.0.0.1:9", http)  # discard port: connection refused
        result = await inst.test_connection()
        assert not result.ok and result.error_class == "transient"
        assert (await inst.health_check()).status == "down"


@pytest.mark.parametrize("sim", [{"records": 4}], indirect=True)
async def test_entities_carry_vendor_fields(sim):
    url, _ = sim
    async with httpx.AsyncClient() as http:
        batches = await run(instance(url, http))
    risks = [e for b in batches if b.stream == "alerts" for e in b.events]
    assets = [e for b in batches if b.stream == "hosts" for e in b.events]
    asset_ids = {a.provenance.external_id for a in assets}
    # endpoint alerts name their host; cloud (fcs) and identity (idp) alerts have no device
    assert any(r.asset_external_id in asset_ids for r in risks)
    for r in risks:
        assert r.severity in ("info", "low", "medium", "high", "critical") and 10 <= r.score <= 100
        assert r.status in ("open", "in_progress", "resolved")
        assert r.asset_external_id is None or r.asset_external_id in asset_ids
        assert r.last_seen is not None and (r.asset_external_id is None or r.attributes["technique_id"])
        assert r.provenance.stream == "alerts" and r.provenance.cursor_to
    for a in assets:
        assert a.asset_type == "host" and a.hostname == a.name and len(a.ip_addresses) == 2
        assert a.mac_addresses and a.os in ("Windows", "Mac", "Linux")
    json.dumps([e.model_dump(mode="json") for e in risks + assets])


async def test_checkpoint_rejects_garbage():
    async with httpx.AsyncClient() as http:
        inst = instance("http://127.0.0.1:9", http)
        with pytest.raises(ConnectorError) as info:
            await run(inst, {"streams": "nope"})
        assert info.value.error_class == "configuration"
        with pytest.raises(ConnectorError) as info:
            async for _ in inst.sync(None, None, streams=["nope"]):
                pass
        assert info.value.error_class == "configuration"


@pytest.mark.parametrize("sim", [{"alerts": 23, "hosts": 11}], indirect=True)
async def test_batches_report_how_much_of_the_vendors_total_was_read(sim):
    url, _ = sim
    async with httpx.AsyncClient() as http:
        batches = await run(instance(url, http, page_size=5))
    alerts = [b for b in batches if b.stream == "alerts"]
    hosts = [b for b in batches if b.stream == "hosts"]
    # The total is the vendor's meta.pagination.total of the run's first page; later, re-anchored
    # pages report only what is left, and do not change it.
    assert {b.stream_total for b in alerts} == {23} and {b.stream_total for b in hosts} == {11}
    assert [b.stream_read for b in alerts] == sorted(b.stream_read for b in alerts)
    assert alerts[0].stream_read == 5 and alerts[-1].stream_read >= 23 and hosts[-1].stream_read >= 11
