"""Keyset paging of a mutable, sorted record set, against the vendors' simulators over real HTTP
while their records change mid-sync: CrowdStrike Falcon (query ids, then fetch entities; FQL filter,
sort parameter, total in the body) and ServiceNow (records straight from the Table API; encoded
query with the sort inside, total in X-Total-Count, timestamps of whole seconds).

What a user must get: every record's current version published, none twice (by entity id and
raw hash), and after every batch a checkpoint that has not passed a record not yet published
(a crash resumed from it loses nothing)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.mapping import cursor_key, raw_sha256
from aria_connector_testkit.testing import SimulatorControl, SimulatorServer
from aria_connector_testkit.vendors.crowdstrike_falcon.simulator import FalconSimulator
from aria_connector_testkit.vendors.servicenow_itsm import simulator as servicenow

FAST = dict(max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05,
            rate_limits={"requests_per_minute": None})


@dataclass(frozen=True)
class Vendor:
    key: str
    streams: dict[str, tuple[str, str]]  # stream: (id field, cursor field)
    simulator: Callable[..., Any]
    config: Callable[[str], dict[str, Any]]  # simulator URL -> installation config
    records: Callable[[Any, str], dict[str, dict]]  # the simulator's current records of a stream
    sent: Callable[[dict], dict]  # a stored record as the stream's request returns it (its raw hash)
    update: Callable[[Any, str, str, list[dict]], list[str]]  # (sim, url, stream, records) -> their ids, changed now
    ad_hoc: tuple[str, dict[str, str], Callable[[dict], bool]]  # stream, a query's own filter, what it selects


SNOW_FIELDS = registry.get("servicenow_itsm").manifest.stream("incidents").request.params["sysparm_fields"].split(",")


def _patch_incidents(_sim: Any, url: str, _stream: str, records: list[dict]) -> list[str]:
    """Through the Table API, as an agent working the incidents would: each gets a new sys_updated_on."""
    auth = (servicenow.DEMO_USER, servicenow.DEMO_PASSWORD)
    for rec in records:
        state = "2" if rec["state"] != "2" else "6"
        httpx.patch(f"{url}/api/now/table/incident/{rec['sys_id']}", json={"state": state},
                    auth=auth).raise_for_status()
    return [rec["sys_id"] for rec in records]


VENDORS = {v.key: v for v in (
    Vendor("crowdstrike_falcon", {"alerts": ("composite_id", "updated_timestamp"),
                                  "hosts": ("device_id", "modified_timestamp")},
           FalconSimulator,
           lambda url: {"base_url": url, "client_id": "demo-client-id", "client_secret": "demo-client-secret"},
           lambda sim, stream: sim.data.alerts if stream == "alerts" else sim.data.hosts,
           lambda record: record,
           lambda sim, _url, stream, records: sim.data.update(stream, records),
           ("alerts", {"filter": "status:'closed'"}, lambda r: r["status"] == "closed")),
    # sysparm_fields, sysparm_exclude_reference_link=true: reference fields as their sys_id
    Vendor("servicenow_itsm", {"incidents": ("sys_id", "sys_updated_on")},
           servicenow.ServiceNowSimulator,
           lambda url: {"instance_url": url, "username": servicenow.DEMO_USER, "password": servicenow.DEMO_PASSWORD},
           lambda sim, _stream: {i: r for i, r in sim.incidents.items() if r["number"] not in sim.unreadable},
           lambda record: {f: servicenow.field_value(record, f) for f in SNOW_FIELDS},
           _patch_incidents,
           ("incidents", {"sysparm_query": "active=true"}, lambda r: r["active"] == "true")),
)}
STREAMS = [(v.key, stream) for v in VENDORS.values() for stream in v.streams]


def cases(options: dict[str, Any] | None = None, streams=STREAMS, **variants: dict[str, Any]) -> list:
    """Parameters of (simulated, stream): every vendor stream, with each variant's simulator options
    (``options`` alone when no variant is named)."""
    variants = variants or {"": {}}
    return [pytest.param((key, {**(options or {}), **extra}), stream,
                         id="-".join(filter(None, (key, stream, name))))
            for key, stream in streams for name, extra in variants.items()]


@pytest.fixture
def simulated(request):
    """(vendor, simulator object, its URL, control client) for ``request.param``, (vendor key,
    simulator options): ``per_timestamp`` records share a timestamp, ``records`` per stream."""
    key, options = request.param
    vendor = VENDORS[key]
    sim = vendor.simulator(seed=11, rate_limit=100_000, rate_window_seconds=1,
                           **{"records": 40, "per_timestamp": 2, **options})
    with SimulatorServer(sim.app()) as server:
        control = SimulatorControl(server.url)
        yield vendor, sim, server.url, control
        control.close()


class Reader:
    """Runs syncs of one stream and checks every batch against the simulator's current records."""

    def __init__(self, vendor: Vendor, sim: Any, url: str, stream: str) -> None:
        self.vendor, self.sim, self.url, self.stream = vendor, sim, url, stream
        self.plugin = registry.get(vendor.key)
        self.id_field, self.cursor_field = vendor.streams[stream]
        self.published: set[tuple[str, str]] = set()  # (external id, raw hash): one version of a record
        self.checkpoint: dict | None = None

    def records(self) -> dict[str, dict]:
        return self.vendor.records(self.sim, self.stream)

    def key(self, record: dict) -> Any:
        return cursor_key(record[self.cursor_field], "datetime")

    def by_cursor(self, records) -> list[dict]:
        return sorted(records, key=lambda r: (self.key(r), r[self.id_field]))

    def update(self, records: list[dict]) -> list[str]:
        return self.vendor.update(self.sim, self.url, self.stream, records)

    def unpublished(self) -> list[dict]:
        return [r for i, r in self.records().items() if (i, raw_sha256(self.vendor.sent(r))) not in self.published]

    def assert_checkpoint_behind_unpublished(self) -> None:
        state = (self.checkpoint or {}).get("streams", {}).get(self.stream)
        if not state or state["cursor"] is None:
            return
        cursor, seen = cursor_key(state["cursor"], "datetime"), set(state["seen"])
        for rec in self.unpublished():
            key = self.key(rec)
            assert key > cursor or (key == cursor and rec[self.id_field] not in seen), (
                f"checkpoint {state['cursor']} passed {rec[self.id_field]} at {rec[self.cursor_field]}, not published")

    def create(self, http: httpx.AsyncClient, page_size: int):
        ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), self.plugin.key)
        settings, secrets = self.plugin.split_config(self.vendor.config(self.url))
        return self.plugin.create(ctx, settings, secrets, http, options=RuntimeOptions(page_size=page_size, **FAST))

    async def sync(self, page_size: int, between_pages=None) -> list[str]:
        """One sync from the last checkpoint; ``between_pages(n)`` runs after the n-th batch."""
        ids = []
        async with httpx.AsyncClient(timeout=10) as http:
            inst = self.create(http, page_size)
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


# 39 records: the newest timestamp holds one, so the first update is stamped with it (whole seconds)
@pytest.mark.parametrize("simulated, stream", cases(newer={"records": 40}, same_stamp={"records": 39}),
                         indirect=["simulated"])
async def test_records_updated_between_pages_are_published_once_in_their_latest_version(simulated, stream):
    vendor, sim, url, _control = simulated
    reader = Reader(vendor, sim, url, stream)
    originally = set(reader.records())
    newest = max(map(reader.key, reader.records().values()))  # U of the first sync
    moved: list[str] = []

    def update(n: int) -> None:
        if n == 2:  # re-sorts read records (the oldest) and unread ones behind every other record
            moved.extend(reader.update(reader.by_cursor(reader.records().values())[:3]))
            moved.extend(reader.update(reader.by_cursor(reader.unpublished())[-12:-9]))

    first = await reader.sync(page_size=5, between_pages=update)
    assert len(moved) == 6
    # a record is read twice (each version once: Reader checks) only when its change was stamped
    # with the newest timestamp the run started from: it is read again at it in the same run
    repeated = {i for i in first if first.count(i) > 1}
    assert repeated <= set(moved) and all(reader.key(reader.records()[i]) == newest for i in repeated)
    assert set(first) >= originally - set(moved), "a record that did not change was skipped"
    await reader.sync(page_size=5)
    assert not reader.unpublished(), "a record's latest version was never published"
    assert await reader.sync(page_size=5) == []


# 39 / 29 records: the newest timestamp holds one, so the first update is stamped with it
@pytest.mark.parametrize("simulated, stream", cases(streams=[s for s in STREAMS if s[0] == "crowdstrike_falcon"],
                                                     newer={}, same_stamp={"alerts": 39, "hosts": 29}),
                         indirect=["simulated"])
async def test_a_record_updated_between_the_id_query_and_the_entity_fetch_does_not_move_the_checkpoint(
        simulated, stream):
    """The id query sorted the record where it was; the entity fetch returns its new, newest
    timestamp. Taking that as the checkpoint would pass every record of the later pages, also
    when the change is stamped with the newest timestamp the sync started from."""
    vendor, sim, url, control = simulated
    reader = Reader(vendor, sim, url, stream)

    def update_during_next_fetch(n: int) -> None:
        if n in (1, 3):
            control.client.post("/_sim/update_on_fetch", json={"stream": stream, "count": 2}).raise_for_status()

    first = await reader.sync(page_size=5, between_pages=update_during_next_fetch)
    assert len(set(first)) >= len(reader.records()) - 4
    await reader.sync(page_size=5)
    assert not reader.unpublished(), "a record's latest version was never published"


@pytest.mark.parametrize("simulated, stream", cases({"per_timestamp": 12}, streams=[
    ("crowdstrike_falcon", "alerts"), ("servicenow_itsm", "incidents")]), indirect=["simulated"])
async def test_a_run_of_equal_timestamps_longer_than_a_page_survives_a_record_leaving_it(simulated, stream):
    """12 records share each timestamp, pages hold 5: inside such a run the query needs an offset,
    and a record of the run updated meanwhile shifts the rest of the run down by one."""
    vendor, sim, url, _control = simulated
    reader = Reader(vendor, sim, url, stream)
    moved: list[str] = []

    def update(n: int) -> None:
        if n in (2, 5):  # the oldest: in the run being read, already published
            moved.extend(reader.update(reader.by_cursor(reader.records().values())[:1]))

    first = await reader.sync(page_size=5, between_pages=update)
    assert set(first) >= set(reader.records()) - set(moved), "a record of the run was skipped"
    await reader.sync(page_size=5)
    assert not reader.unpublished()


# incidents 3 and 7-13 (a whole page and more), and then also the newest, 40, are not readable by
# the integration user
@pytest.mark.parametrize("simulated, stream", cases(streams=[("servicenow_itsm", "incidents")],
                                                     within={"unreadable": [3, *range(7, 14)]},
                                                     newest={"unreadable": [3, *range(7, 14), 40]}),
                         indirect=["simulated"])
async def test_rows_withheld_after_the_query_do_not_end_the_sync(simulated, stream):
    """ServiceNow applies row ACLs to each window of sysparm_limit rows after the query: a page comes
    back short or empty while X-Total-Count counts rows after it. Taken for the last page, it ends
    the sync there, and every later sync again: a window of unreadable rows at the checkpoint (or
    the newest one, read for the upper bound) would stop the stream for good."""
    vendor, sim, url, _control = simulated
    reader = Reader(vendor, sim, url, stream)
    moved: list[str] = []

    def update(n: int) -> None:
        if n == 2:
            moved.extend(reader.update(reader.by_cursor(reader.records().values())[:1]))

    first = await reader.sync(page_size=5, between_pages=update)
    assert set(first) >= set(reader.records()) - set(moved), "a readable incident was skipped"
    await reader.sync(page_size=5)
    assert not reader.unpublished()
    assert await reader.sync(page_size=5) == []


@pytest.mark.parametrize("simulated", [("crowdstrike_falcon", {"alerts": 40, "hosts": 30})], indirect=True)
async def test_query_endpoints_page_only_within_the_first_10000_results(simulated):
    """As the vendor: QueryDevicesByFilter refuses offset + limit past 10,000 (400) and the alerts
    query fails past it (500); within it both answer."""
    _vendor, _sim, url, _control = simulated
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


@pytest.mark.parametrize("simulated", [(key, {}) for key in VENDORS], indirect=True, ids=list(VENDORS))
async def test_an_ad_hoc_query_filter_is_joined_with_the_paging_terms(simulated):
    """query()'s own filter (FQL, an encoded query) is ANDed with the cursor and upper-bound terms
    (and ServiceNow's sort terms), not replaced."""
    vendor, sim, url, _control = simulated
    reader = Reader(vendor, sim, url, vendor.ad_hoc[0])
    stream, filters, selected = vendor.ad_hoc
    async with httpx.AsyncClient(timeout=10) as http:
        inst = reader.create(http, page_size=5)
        result = await inst.query(stream, filters=filters, limit=1000)
        await inst.close()
    chosen = {i for i, r in reader.records().items() if selected(r)}
    assert chosen and sorted(e.provenance.external_id for e in result.events) == sorted(chosen)
