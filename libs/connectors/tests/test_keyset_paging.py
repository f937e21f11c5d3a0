"""Keyset paging of a mutable, sorted id set (CrowdStrike Falcon: query ids, then fetch entities),
against the simulator over real HTTP while its records change mid-sync.

What a user must get: every record's current version published, none twice (by entity id and
raw hash), and after every batch a checkpoint that has not passed a record not yet published
(a crash resumed from it loses nothing)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.mapping import raw_sha256
from aria_connectors.testing import SimulatorControl, SimulatorServer
from aria_connectors.vendors.crowdstrike_falcon.simulator import FalconSimulator, ts_key

PLUGIN = registry.get("crowdstrike_falcon")
STREAMS = {"alerts": ("composite_id", "updated_timestamp"), "hosts": ("device_id", "modified_timestamp")}
FAST = dict(max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
            rate_limits={"requests_per_minute": None})


@pytest.fixture
def falcon(request):
    """(simulator object, its URL, control client); ``per_timestamp`` records share a timestamp
    (indirect parameters override the simulator's options)."""
    options = {"alerts": 40, "hosts": 30, "per_timestamp": 2, **getattr(request, "param", {})}
    sim = FalconSimulator(seed=11, rate_limit=100_000, rate_window_seconds=1, **options)
    with SimulatorServer(sim.app()) as server:
        control = SimulatorControl(server.url)
        yield sim, server.url, control
        control.close()


class Reader:
    """Runs syncs of one stream and checks every batch against the simulator's current records."""

    def __init__(self, sim: FalconSimulator, url: str, stream: str) -> None:
        self.sim, self.url, self.stream = sim, url, stream
        self.id_field, self.cursor_field = STREAMS[stream]
        self.published: set[tuple[str, str]] = set()  # (external id, raw hash): one version of a record
        self.checkpoint: dict | None = None

    def records(self) -> dict[str, dict]:
        return self.sim.data.alerts if self.stream == "alerts" else self.sim.data.hosts

    def unpublished(self) -> list[dict]:
        return [r for i, r in self.records().items() if (i, raw_sha256(r)) not in self.published]

    def assert_checkpoint_behind_unpublished(self) -> None:
        state = (self.checkpoint or {}).get("streams", {}).get(self.stream)
        if not state or state["cursor"] is None:
            return
        cursor, seen = ts_key(state["cursor"]), set(state["seen"])
        for rec in self.unpublished():
            key = ts_key(rec[self.cursor_field])
            assert key > cursor or (key == cursor and rec[self.id_field] not in seen), (
                f"checkpoint {state['cursor']} passed {rec[self.id_field]} at {rec[self.cursor_field]}, not published")

    async def sync(self, page_size: int, between_pages=None) -> list[str]:
        """One sync from the last checkpoint; ``between_pages(n)`` runs after the n-th batch."""
        ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), PLUGIN.key)
        settings, secrets = PLUGIN.split_config({"base_url": self.url, "client_id": "demo-client-id",
                                                 "client_secret": "demo-client-secret"})
        ids = []
        async with httpx.AsyncClient(timeout=10) as http:
            inst = PLUGIN.create(ctx, settings, secrets, http, options=RuntimeOptions(page_size=page_size, **FAST))
            n = 0
            async for batch in inst.sync(self.checkpoint, None, streams=[self.stream]):
                n += 1
                for event in batch.events:
                    key = (event.provenance.external_id, event.provenance.raw_sha256)
                    assert key not in self.published, f"{key[0]} published twice in the same version"
                    self.published.add(key)
                    ids.append(key[0])
                self.checkpoint = batch.checkpoint
                self.assert_checkpoint_behind_unpublished()
                if between_pages is not None:
                    between_pages(n)
            await inst.close()
        return ids


@pytest.mark.parametrize("stream", list(STREAMS))
async def test_records_updated_between_pages_are_published_once_in_their_latest_version(falcon, stream):
    sim, url, control = falcon
    reader = Reader(sim, url, stream)
    originally = set(reader.records())
    moved: list[str] = []

    def update(n: int) -> None:
        if n == 2:  # re-sorts read records (the oldest) and unread ones behind every other record
            moved.extend(control.add_records(stream, update=3)["updated"])
            newest = sorted(reader.unpublished(), key=lambda r: ts_key(r[reader.cursor_field]))
            moved.extend(sim.data.update(stream, newest[-12:-9]))

    first = await reader.sync(page_size=5, between_pages=update)
    assert len(first) == len(set(first)) and len(moved) == 6
    assert set(first) >= originally - set(moved), "a record that did not change was skipped"
    await reader.sync(page_size=5)
    assert not reader.unpublished(), "a record's latest version was never published"
    assert await reader.sync(page_size=5) == []


# 39 / 29 records: the newest timestamp holds one record, so the first update is stamped with it
@pytest.mark.parametrize("falcon", [{}, {"alerts": 39, "hosts": 29}], indirect=True, ids=["newer", "same-stamp"])
@pytest.mark.parametrize("stream", list(STREAMS))
async def test_a_record_updated_between_the_id_query_and_the_entity_fetch_does_not_move_the_checkpoint(
        falcon, stream):
    """The id query sorted the record where it was; the entity fetch returns its new, newest
    timestamp. Taking that as the checkpoint would pass every record of the later pages, also
    when the change is stamped with the newest timestamp the sync started from."""
    sim, url, control = falcon
    reader = Reader(sim, url, stream)

    def update_during_next_fetch(n: int) -> None:
        if n in (1, 3):
            control.client.post("/_sim/update_on_fetch", json={"stream": stream, "count": 2}).raise_for_status()

    first = await reader.sync(page_size=5, between_pages=update_during_next_fetch)
    assert len(set(first)) >= len(reader.records()) - 4
    await reader.sync(page_size=5)
    assert not reader.unpublished(), "a record's latest version was never published"


@pytest.mark.parametrize("falcon", [{"per_timestamp": 12}], indirect=True)
async def test_a_run_of_equal_timestamps_longer_than_a_page_survives_a_record_leaving_it(falcon):
    """12 alerts share each timestamp, pages hold 5: inside such a run the query needs an offset,
    and an alert of the run updated meanwhile shifts the rest of the run down by one."""
    sim, url, control = falcon
    reader = Reader(sim, url, "alerts")
    moved: list[str] = []

    def update(n: int) -> None:
        if n in (2, 5):  # the oldest: in the run being read, already published
            moved.extend(control.add_records("alerts", update=1)["updated"])

    first = await reader.sync(page_size=5, between_pages=update)
    assert set(first) >= set(reader.records()) - set(moved), "an alert of the run was skipped"
    await reader.sync(page_size=5)
    assert not reader.unpublished()


async def test_query_endpoints_page_only_within_the_first_10000_results(falcon):
    """As the vendor: QueryDevicesByFilter refuses offset + limit past 10,000 (400) and the alerts
    query fails past it (500); within it both answer."""
    _sim, url, _control = falcon
    async with httpx.AsyncClient(base_url=url) as http:
        token = (await http.post("/oauth2/token", data={"client_id": "demo-client-id",
                                                        "client_secret": "demo-client-secret"})).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        within = await http.get("/devices/queries/devices/v1", params={"offset": 5000, "limit": 5000}, headers=auth)
        assert within.status_code == 200 and within.json()["meta"]["pagination"]["total"] == 30
        past = await http.get("/devices/queries/devices/v1", params={"offset": 9999, "limit": 2}, headers=auth)
        assert past.status_code == 400
        assert past.json()["errors"] == [{"code": 400, "message": "limit + offset must be less than 10000"}]
        alerts = await http.get("/alerts/queries/alerts/v2", params={"offset": 10000, "limit": 1}, headers=auth)
        assert alerts.status_code == 500
        first = await http.get("/alerts/queries/alerts/v2", params={"offset": 0, "limit": 10000}, headers=auth)
        assert first.status_code == 200 and len(first.json()["resources"]) == 40


async def test_an_ad_hoc_query_filter_is_joined_with_the_paging_terms(falcon):
    """query()'s own FQL filter is ANDed with the cursor and upper-bound terms, not replaced."""
    sim, url, _control = falcon
    settings, secrets = PLUGIN.split_config({"base_url": url, "client_id": "demo-client-id",
                                             "client_secret": "demo-client-secret"})
    async with httpx.AsyncClient(timeout=10) as http:
        inst = PLUGIN.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), PLUGIN.key), settings, secrets, http,
                             options=RuntimeOptions(page_size=5, **FAST))
        result = await inst.query("alerts", filters={"filter": "status:'closed'"}, limit=1000)
        await inst.close()
    closed = {i for i, r in sim.data.alerts.items() if r["status"] == "closed"}
    assert closed and sorted(e.provenance.external_id for e in result.events) == sorted(closed)
