"""An installation's data mappings override the connector's defaults (sdk/data_mappings.py):
over real HTTP against the CrowdStrike simulator, and on webhook payloads."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.errors import ConfigurationError
from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.data_mappings import CompareFilter, MemberFilter, TextFilter, default_specs
from aria_connector_testkit.simulators import create_app
from aria_connector_testkit.testing import SimulatorServer

CS = registry.get("crowdstrike_falcon")
WEBHOOK = registry.get("generic_webhook")
FAST = dict(max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05, max_retry_after_seconds=5)


def default(plugin, source: str, **changes) -> dict:
    """The connector's default mapping of a source type, as the installer stores it."""
    spec = default_specs(plugin.manifest)[source]
    row = {"source_type": source, "target_entity": spec.entity, "external_id": spec.external_id,
           "field_mappings": {k: v if isinstance(v, str) else v.model_dump(mode="json", exclude_defaults=True)
                              for k, v in spec.fields.items()},
           "attributes": dict(spec.attributes), "transformation_rules": [], "filter_rules": [], "priority": 100,
           "active": True, "origin": "connector"}
    return {**row, **changes}


def context(plugin) -> InstallationContext:
    return InstallationContext(org_id=uuid.uuid4(), installation_id=uuid.uuid4(), integration_key=plugin.key)


FALCON_INSTALLATION = context(CS)  # one installation, synced with different mappings


@pytest.fixture(scope="module")
def falcon():
    with SimulatorServer(create_app("crowdstrike_falcon", records=24)) as server:
        yield server.url


async def synced(url: str, mappings: list[dict] | None):
    async with httpx.AsyncClient() as http:
        inst = CS.create(FALCON_INSTALLATION, {"base_url": url, "client_id": "demo-client-id"},
                         {"client_secret": "demo-client-secret"}, http,
                         options=RuntimeOptions(**FAST, mappings=None if mappings is None else tuple(mappings)))
        try:
            return [b async for b in inst.sync(None, None)]
        finally:
            await inst.close()


def raw_hosts(batches) -> dict[str, dict]:
    return {e.provenance.external_id: e for b in batches if b.stream == "hosts" for e in b.events}


async def test_defaults_when_the_installation_never_changed_its_mappings(falcon):
    batches = await synced(falcon, None)
    assert {e.entity_type for b in batches for e in b.events} == {"risk", "asset"}


async def test_a_narrow_mapping_in_front_of_the_default_with_rules(falcon):
    baseline = raw_hosts(await synced(falcon, None))
    windows = default(CS, "hosts", origin="custom", priority=200,
                      filter_rules=[{"path": "platform_name", "op": "eq", "value": "Windows"}],
                      transformation_rules=[{"field": "name", "op": "upper"},
                                            {"field": "name", "op": "prefix", "value": "win-"}])
    batches = await synced(falcon, [windows, default(CS, "hosts"), default(CS, "alerts", active=False)])

    assert not [e for b in batches for e in b.events if e.entity_type == "risk"], "inactive source still mapped"
    assets = raw_hosts(batches)
    assert assets.keys() == baseline.keys(), "the fallback default must keep every other host"
    renamed = {ext for ext, a in assets.items() if a.name != baseline[ext].name}
    assert renamed and renamed == {ext for ext, a in baseline.items() if a.os == "Windows"}
    for ext in renamed:
        assert assets[ext].name == "win-" + baseline[ext].name.upper()
        assert assets[ext].hostname == baseline[ext].hostname  # rules touch only their field
        assert assets[ext].entity_id == baseline[ext].entity_id  # same entity, differently mapped


async def test_a_filter_without_fallback_drops_records_silently(falcon):
    baseline = raw_hosts(await synced(falcon, None))
    platforms = sorted({a.os for a in baseline.values()})
    assert len(platforms) > 1, "the simulator should serve hosts of several platforms"
    kept = platforms[0]
    only_one = default(CS, "hosts", origin="custom", filter_rules=[{"path": "platform_name", "op": "eq",
                                                                   "value": kept}])
    batches = await synced(falcon, [only_one])
    assets = raw_hosts(batches)
    assert assets.keys() == {ext for ext, a in baseline.items() if a.os == kept}
    assert not [e for b in batches for e in b.record_errors], "filtered records are not errors"
    assert not [b for b in batches if b.stream == "alerts" and b.events], "a source with no mapping yields nothing"


async def test_one_record_can_feed_two_entities(falcon):
    as_alert = {"source_type": "alerts", "target_entity": "alert", "external_id": "composite_id",
                "field_mappings": {"title": "name", "severity": {"path": "severity_name", "lower": True,
                                                                 "map_default": "info",
                                                                 "map": {"informational": "info"}},
                                   "status": {"const": "new"}, "detected_at": "created_timestamp"},
                "origin": "custom"}
    batches = await synced(falcon, [default(CS, "alerts"), as_alert])
    alerts = [e for b in batches for e in b.events if b.stream == "alerts"]
    risks = {e.provenance.external_id for e in alerts if e.entity_type == "risk"}
    assert risks and risks == {e.provenance.external_id for e in alerts if e.entity_type == "alert"}


async def test_a_custom_mapping_that_reads_a_field_the_vendor_lacks_counts_record_errors(falcon):
    wrong = default(CS, "hosts", origin="custom", external_id="serial_number")  # not a Falcon device field
    batches = await synced(falcon, [wrong])
    errors = [e for b in batches for e in b.record_errors]
    assert errors and all("missing external id" in e.reason for e in errors)
    assert not raw_hosts(batches)


async def test_an_invalid_set_is_a_configuration_error():
    async with httpx.AsyncClient() as http:
        with pytest.raises(ConfigurationError, match="data mappings are invalid"):
            CS.create(context(CS), {"base_url": "http://127.0.0.1:9", "client_id": "x"}, {"client_secret": "y"},
                      http, options=RuntimeOptions(mappings=(default(CS, "hosts", target_entity="spaceship",
                                                                   origin="custom"),)))


async def test_webhook_payload_types_are_source_types():
    risky = default(WEBHOOK, "webhook.risk", origin="custom",
                    filter_rules=[{"path": "severity", "op": "in", "value": ["high", "critical"]}],
                    transformation_rules=[{"field": "title", "op": "truncate", "length": 5}])
    body = json.dumps({"events": [
        {"type": "risk", "id": "r1", "title": "Exposed admin panel", "severity": "critical"},
        {"type": "risk", "id": "r2", "title": "Weak cipher", "severity": "low"},
        {"type": "indicator", "id": "i1", "indicator_type": "domain", "value": "evil.example", "severity": "high"},
        {"type": "alert", "id": "a1", "title": "Login burst", "severity": "medium"},
    ]}).encode()
    async with httpx.AsyncClient() as http:
        inst = WEBHOOK.create(context(WEBHOOK), {}, {"signing_secret": "s" * 32}, http,
                              options=RuntimeOptions(mappings=(risky, default(WEBHOOK, "webhook.indicator"))))
        result = inst.parse_webhook({}, body, "delivery-1")
    assert [(e.entity_type, e.provenance.external_id) for e in result.events] == [("risk", "r1"),
                                                                                   ("indicator", "i1")]
    assert result.events[0].title == "Expos"
    assert not result.record_errors


@pytest.mark.parametrize(("rule", "value", "holds"), [
    (CompareFilter(path="x", op="eq", value=50), "50", True),  # vendors send numbers as strings
    (CompareFilter(path="x", op="gt", value=9), "10", True),  # compared as numbers, not text
    (CompareFilter(path="x", op="gte", value="2026-01-01T00:00:00Z"), "2026-03-01T10:00:00Z", True),
    (CompareFilter(path="x", op="ne", value="closed"), None, True),
    (CompareFilter(path="x", op="lt", value=5), None, False),
    (MemberFilter(path="x", op="not_in", value=["a", "b"]), "c", True),
    (TextFilter(path="x", op="contains", value="prod"), ["dev", "prod-eu"], True),
    (TextFilter(path="x", op="matches", value=r"^srv-\d+$"), "srv-12", True),
    (TextFilter(path="x", op="matches", value=r"^srv-\d+$"), {"nested": 1}, False),
])
def test_filter_rules(rule, value, holds):
    assert rule.holds(value) is holds
