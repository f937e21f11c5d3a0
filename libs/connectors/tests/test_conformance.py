"""The ONE conformance suite every discovered connector must pass, against its simulator
over real HTTP. Adding a connector adds fixtures (its conformance.yaml), never tests here.

Every test carries ``@pytest.mark.quality(criterion)``: conftest.py records the outcomes per
connector and computes its quality tier (see aria_connectors.sdk.quality)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any
from collections import Counter
from datetime import datetime, timedelta, timezone

import jsonschema
import pytest
import yaml

from aria_connectors.errors import BadWebhookPayload, ConnectorError
from aria_connectors.sdk import PushRequest, drain_sync
from aria_connectors.sdk.manifest import ON_VENDOR_OBJECT, manifest_json_schema
from aria_connectors.sdk.mapping import MODELS, canonical_json
from aria_connectors.sdk.templates import render
from aria_contracts.events import Provenance
from aria_contracts.ids import entity_id
from aria_connector_testkit import simulator_module
from aria_connector_testkit.graphql_schema import (
    ResultCheck,
    document_problems,
    first_nullable,
    manifest_documents,
    result_problems,
    schema_for,
    variable_problems,
)

CATALOG_FIELDS = {
    "key", "name", "vendor", "product", "category", "description", "version", "documentation_url", "support_url",
    "pricing_model", "official", "community", "beta", "deprecated", "capabilities", "data_types", "auth_methods",
    "installation_complexity", "config_schema", "rate_limits",
}


async def collect(instance, checkpoint=None, job_id=None, limit_batches=None):
    batches = []
    async for batch in instance.sync(checkpoint, job_id):
        batches.append(batch)
        if limit_batches is not None and len(batches) >= limit_batches:
            break
    return batches


def events_of(batches):
    return [e for b in batches for e in b.events]


def expected_counts(h) -> dict[str, int]:
    streams = h.control.state()["streams"]
    return {name: s["records"] - s["malformed"] for name, s in streams.items()}


def assert_entities_valid(h, instance, events, job_id=None):
    ctx = instance.context
    for e in events:
        p = e.provenance
        assert e.entity_id == entity_id(org_id=ctx.org_id, integration_key=h.key, entity_type=e.entity_type,
                                        external_id=p.external_id)
        assert e.org_id == ctx.org_id
        assert p.installation_id == ctx.installation_id and p.integration_key == h.key
        assert p.connector_version == h.plugin.manifest.version
        assert len(p.raw_sha256) == 64 and p.sync_job_id == job_id
        assert e.entity_type in h.plugin.manifest.data_types
        type(e).model_validate(e.model_dump(mode="json"))  # round-trips through the contract


# --- manifest / config -------------------------------------------------------------------------


@pytest.mark.quality("manifest")
def test_manifest_and_config_schema(harness):
    m = harness.plugin.manifest
    raw = yaml.safe_load((harness.plugin.directory / "manifest.yaml").read_text())
    jsonschema.Draft202012Validator(manifest_json_schema()).validate(raw)
    jsonschema.Draft202012Validator.check_schema(m.config_schema)
    assert m.key == harness.key
    entry = m.catalog_entry()
    assert CATALOG_FIELDS <= set(entry)
    assert json.loads(json.dumps(entry)) == entry
    assert set(entry["secret_fields"]) == set(m.secret_fields())
    for name in m.secret_fields():
        assert m.config_schema["properties"][name].get("x-secret") is True

    config = harness.config()
    assert harness.plugin.validate_config(config) == []
    settings, secrets = harness.plugin.split_config(config)
    assert set(secrets) == set(m.secret_fields()) & set(config)
    assert not set(settings) & set(secrets) and {**settings, **secrets} == config

    invalid = {**config, **harness.fixtures["invalid_config"]}
    errors = harness.plugin.validate_config(invalid)
    assert errors, "invalid_config fixture must fail validation"
    secret_values = [str(v) for k, v in invalid.items() if k in m.secret_fields()]
    for err in errors:
        assert all(v not in err.message for v in secret_values if v)
    missing = harness.plugin.validate_config({})
    assert {e.path for e in missing} >= set(m.config_schema.get("required", []))


# --- connection -------------------------------------------------------------------------------


@pytest.mark.quality("auth")
async def test_connection_good_and_bad_credentials(harness):
    harness.require("test_connection")
    good = await harness.create().test_connection()
    assert good.ok and good.error_class is None and good.latency_ms >= 0

    bad_cfg = harness.config(**harness.fixtures["bad_config"])
    bad = await harness.create(bad_cfg).test_connection()
    assert not bad.ok and bad.error_class == "authentication"
    for value in harness.fixtures["bad_config"].values():
        assert str(value) not in bad.message


@pytest.mark.quality("auth")
async def test_auth_alternatives_chosen_by_config(harness):
    """One manifest, several ways to authenticate (``api.auth.type: choice``): each alternative
    configuration in the fixtures is valid, connects and reads."""
    alternatives = harness.fixtures.get("auth_alternatives")
    if not alternatives:
        pytest.skip(f"{harness.key} authenticates one way")
    for alternative in alternatives:
        config = render(alternative, {"simulator_url": harness.url})
        assert harness.plugin.validate_config(config) == []
        inst = harness.create(config)
        assert (await inst.test_connection()).ok
        if harness.has("sync"):
            assert (await inst.preview(max_pages=1)).pages


@pytest.mark.quality("auth")
async def test_lifecycle_initialize_and_authenticate(harness):
    harness.require("test_connection")
    inst = harness.create()
    await inst.initialize()
    auth = await inst.authenticate()
    assert auth.ok and auth.error_class is None
    if auth.method.startswith("oauth2_"):  # client credentials or password grant
        assert auth.expires_at is not None and auth.expires_at > datetime.now(timezone.utc)
    else:
        assert auth.expires_at is None
    bad = await harness.create(harness.config(**harness.fixtures["bad_config"])).authenticate()
    assert not bad.ok and bad.error_class == "authentication"
    for value in harness.fixtures["bad_config"].values():
        assert str(value) not in bad.message
    await inst.disconnect()
    assert inst.api.auth.token_expires_at is None


@pytest.mark.quality("auth")
async def test_instances_are_isolated(harness):
    harness.require("test_connection")
    bad_cfg = harness.config(**harness.fixtures["bad_config"])
    good, bad = harness.create(), harness.create(bad_cfg)
    assert (await good.test_connection()).ok
    assert not (await bad.test_connection()).ok
    assert (await good.test_connection()).ok  # the bad instance did not disturb the good one


@pytest.mark.quality("health")
async def test_health_check(harness):
    harness.require("health_check")
    health = await harness.create().health_check()
    assert health.status == "healthy", health
    if harness.plugin.manifest.rate_limits.remaining_header:
        assert isinstance(health.details.get("rate_limit_remaining"), int)


# --- sync -------------------------------------------------------------------------------------


@pytest.mark.quality("ingest")
async def test_full_sync(harness):
    harness.require("sync")
    import uuid

    job_id = uuid.uuid4()
    inst = harness.create()
    batches = await collect(inst, None, job_id)
    events = events_of(batches)
    counts = Counter(b.stream for b in batches for _ in b.events)
    assert dict(counts) == {k: v for k, v in expected_counts(harness).items() if v}
    ids = [e.entity_id for e in events]
    assert len(ids) == len(set(ids)), "full sync published duplicates"
    assert_entities_valid(harness, inst, events, job_id)
    assert not [err for b in batches for err in b.record_errors]
    for b in batches:
        assert b.stream in inst.stream_names() and isinstance(b.checkpoint, dict)
        json.dumps(b.checkpoint)


@pytest.mark.quality("ingest")
async def test_raw_hash_is_canonical_json_of_vendor_record(harness):
    harness.require("sync")
    inst = harness.create()
    async for batch in inst.sync(None, None):
        event = batch.events[0]
        break
    # Re-fetching through the SDK's own stream reader would be circular; instead check the hash
    # is stable across runs and matches canonical JSON of the record the simulator serves.
    again = events_of(await collect(harness.create(), None, None))
    match = [e for e in again if e.entity_id == event.entity_id]
    assert match and match[0].provenance.raw_sha256 == event.provenance.raw_sha256
    assert canonical_json({"b": 1, "a": [1, 2]}) == '{"a":[1,2],"b":1}'


@pytest.mark.quality("ingest")
async def test_pagination_spans_three_pages(harness):
    """Every record read exactly once, across at least three pages (batches) per stream."""
    harness.require("sync")
    batches = await collect(harness.create(), None, None)
    expected = expected_counts(harness)
    for stream in harness.plugin.manifest.api.streams:
        pages = [b.events for b in batches if b.stream == stream.name and b.events]
        assert len(pages) >= 3, f"{stream.name}: fewer than 3 pages"
        ids = [e.entity_id for events in pages for e in events]
        assert len(ids) == len(set(ids)) == expected[stream.name], f"{stream.name}: records lost or read twice"


@pytest.mark.quality("incremental")
async def test_incremental_rerun_and_append(harness):
    harness.require("incremental")
    first = await collect(harness.create(), None, None)
    checkpoint = first[-1].checkpoint

    rerun = await collect(harness.create(), checkpoint, None)
    assert events_of(rerun) == [], "re-run from the checkpoint published records again"
    if rerun:
        checkpoint = rerun[-1].checkpoint

    n = harness.fixtures.get("append", {}).get("count", 7)
    added: dict[str, set[str]] = {}
    for stream in harness.plugin.manifest.api.streams:
        added[stream.name] = set(harness.control.add_records(stream.name, n)["added"])
    after = await collect(harness.create(), checkpoint, None)
    got: dict[str, list[str]] = {}
    for b in after:
        got.setdefault(b.stream, []).extend(e.provenance.external_id for e in b.events)
    for name, ids in added.items():
        assert sorted(got.get(name, [])) == sorted(ids), f"{name}: incremental sync missed or duplicated records"
    for e in events_of(after):
        assert e.provenance.cursor_from is not None and e.provenance.cursor_to is not None

    final = await collect(harness.create(), after[-1].checkpoint, None)
    assert events_of(final) == []


@pytest.mark.quality("incremental")
async def test_updated_records_are_picked_up(harness):
    harness.require("incremental")
    first = await collect(harness.create(), None, None)
    stream = harness.plugin.manifest.api.streams[0].name
    touched = harness.control.add_records(stream, 0, update=3)["updated"]
    after = await collect(harness.create(), first[-1].checkpoint, None)
    assert sorted(e.provenance.external_id for e in events_of(after)) == sorted(touched)
    old = {e.entity_id: e.provenance.raw_sha256 for e in events_of(first)}
    for e in events_of(after):
        assert e.entity_id in old and old[e.entity_id] != e.provenance.raw_sha256


@pytest.mark.quality("incremental")
async def test_resume_from_any_batch_checkpoint(harness):
    harness.require("incremental")
    full = events_of(await collect(harness.create(), None, None))
    partial = await collect(harness.create(), None, None, limit_batches=2)
    rest = await collect(harness.create(), partial[-1].checkpoint, None)
    resumed = events_of(partial) + events_of(rest)
    keys = [(e.entity_id, e.provenance.raw_sha256) for e in resumed]
    assert len(keys) == len(set(keys)), "resume published duplicates"
    assert {e.entity_id for e in resumed} == {e.entity_id for e in full}, "resume lost records"


@pytest.mark.quality("error_classification")
async def test_malformed_record_is_counted_and_skipped(harness):
    harness.require("incremental")
    first = await collect(harness.create(), None, None)
    stream = harness.plugin.manifest.api.streams[0].name
    res = harness.control.add_records(stream, 2, malformed=1)
    bad_id = res["added"][-1]
    after = await collect(harness.create(), first[-1].checkpoint, None)
    errors = [err for b in after for err in b.record_errors]
    assert len(errors) == 1 and errors[0].stream == stream and errors[0].external_id == bad_id
    assert sorted(e.provenance.external_id for e in events_of(after)) == sorted(res["added"][:2])
    again = await collect(harness.create(), after[-1].checkpoint, None)
    assert events_of(again) == [] and not [e for b in again for e in b.record_errors]


@pytest.mark.quality("rate_limits")
async def test_rate_limit_retry_after_is_honoured(harness):
    harness.require("sync")
    inst = harness.create()
    assert (await inst.test_connection()).ok  # token fetched before the fault
    harness.control.faults(429, 1, retry_after=1)
    start = time.monotonic()
    batches = await collect(inst, None, None)
    assert time.monotonic() - start >= 0.95, "Retry-After was not waited out"
    assert sum(len(b.events) for b in batches) == sum(expected_counts(harness).values())


@pytest.mark.quality("ingest")
@pytest.mark.quality("error_classification")
async def test_sync_result_counts_a_drained_sync(harness):
    harness.require("incremental")
    seen = []

    async def publish(batch):
        seen.append(batch)

    known: set = set()
    first = await drain_sync(harness.create(), known_entity_ids=known, on_batch=publish)
    total = sum(expected_counts(harness).values())
    assert (first.created, first.updated, first.failed) == (total, 0, sum(
        s["malformed"] for s in harness.control.state()["streams"].values()))
    assert first.processed == first.created + first.failed and first.batches == len(seen)
    assert first.checkpoint == seen[-1].checkpoint and len(first.record_errors) == first.failed
    stream = harness.plugin.manifest.api.streams[0].name
    res = harness.control.add_records(stream, 2, malformed=1, update=1)
    again = await drain_sync(harness.create(), first.checkpoint, known_entity_ids=known)
    assert (again.created, again.updated, again.failed) == (2, len(res["updated"]), 1)


@pytest.mark.quality("ingest")
async def test_query_is_a_bounded_ad_hoc_read(harness):
    harness.require("sync")
    stream = harness.plugin.manifest.api.streams[0].name
    result = await harness.create().query(stream, limit=3)
    assert len(result.events) == 3 and result.truncated
    everything = await harness.create().query(stream, limit=10_000)
    assert not everything.truncated and len(everything.events) == expected_counts(harness)[stream]
    assert harness.control.state().get("created", 0) == 0
    with pytest.raises(ConnectorError):
        await harness.create().query("no_such_stream")


@pytest.mark.quality("rate_limits")
async def test_client_budget_avoids_a_429_storm(harness):
    """The vendor's budget is smaller than one sync: with that budget declared, the instance spaces
    its calls (token bucket) instead of drawing a 429 per call, and the sync completes."""
    harness.require("sync")
    await collect(harness.create(), None, None)
    calls = sum(v for path, v in harness.control.state()["requests"].items() if "{" not in path)
    budget, window = max(3, calls // 3), 0.25
    harness.control.reset()
    harness.control.rate_limit(budget, window)
    per_minute = int((budget - 1) * 60 / window)  # one call under the vendor's window, evenly spaced
    inst = harness.create(rate_limits={"requests_per_minute": per_minute, "burst": 1,
                                       "requests_per_hour": None, "requests_per_day": None})
    batches = await collect(inst, None, None)
    assert sum(len(b.events) for b in batches) == sum(expected_counts(harness).values())
    assert inst.api.limiter.waited_seconds > 0, "the budget never made the instance wait"
    assert harness.control.state()["throttled"] <= 1


@pytest.mark.quality("error_classification")
async def test_server_errors_retried_then_transient(harness):
    harness.require("sync")
    inst = harness.create()
    assert (await inst.test_connection()).ok
    harness.control.faults(500, 1)
    assert len(await collect(inst, None, None, limit_batches=1)) == 1  # one 500 is retried away

    harness.control.faults(500, 50)
    with pytest.raises(ConnectorError) as info:
        await collect(inst, None, None)
    assert info.value.error_class == "transient"
    health = await inst.health_check()
    assert health.status == "down"
    harness.control.clear_faults()
    assert (await inst.health_check()).status == "healthy"


@pytest.mark.quality("auth")
async def test_expired_token_is_refetched_once(harness):
    harness.require("sync")
    if not harness.plugin.manifest.api.auth.type.startswith("oauth2_"):
        pytest.skip("not an OAuth2 connector")
    inst = harness.create()
    assert (await inst.test_connection()).ok
    issued = harness.control.state()["tokens_issued"]
    harness.control.expire_tokens()
    assert (await inst.test_connection()).ok
    assert harness.control.state()["tokens_issued"] == issued + 1


# --- webhooks ---------------------------------------------------------------------------------


def signed(h, body: bytes, ts: int, delivery_id: str | None = None) -> dict[str, str]:
    module = simulator_module(h.plugin)
    assert module is not None and hasattr(module, "sign_webhook"), "webhook connectors ship a sign_webhook()"
    _, secrets = h.plugin.split_config(h.config())
    return module.sign_webhook(secrets, body, ts, delivery_id)


@pytest.mark.quality("auth")
@pytest.mark.quality("webhooks")
async def test_webhook_verification(harness):
    harness.require("webhook")
    inst = harness.create()
    _, secrets = harness.plugin.split_config(harness.config())
    now = datetime.now(timezone.utc)
    body = json.dumps(harness.fixtures["webhook"]["body"]).encode()
    ts = int(now.timestamp())

    headers = signed(harness, body, ts)
    ok = inst.verify_webhook(headers, body, secrets, now)
    assert ok.ok and ok.reason is None
    assert ok.delivery_id == "sha256:" + hashlib.sha256(body).hexdigest()
    replay = inst.verify_webhook(headers, body, secrets, now + timedelta(seconds=5))
    assert replay.ok and replay.delivery_id == ok.delivery_id, "a replay must carry the same delivery id"

    with_id = signed(harness, body, ts, "delivery-123")
    assert inst.verify_webhook(with_id, body, secrets, now).delivery_id == "delivery-123"

    tampered = inst.verify_webhook(headers, body + b" ", secrets, now)
    assert not tampered.ok and tampered.reason
    wrong_secret = {k: v + "x" for k, v in secrets.items()}
    assert not inst.verify_webhook(headers, body, wrong_secret, now).ok
    unsigned = {k: v for k, v in headers.items() if "signature" not in k.lower()}
    assert not inst.verify_webhook(unsigned, body, secrets, now).ok

    spec = harness.plugin.manifest.webhook
    if spec.timestamp is not None:
        stale_ts = ts - spec.timestamp.tolerance_seconds - 5
        stale = inst.verify_webhook(signed(harness, body, stale_ts), body, secrets, now)
        assert not stale.ok and "timestamp" in stale.reason
    for verdict in (tampered,):
        for v in secrets.values():
            assert str(v) not in (verdict.reason or "")


@pytest.mark.quality("webhooks")
async def test_handle_webhook_verifies_and_parses_in_one_call(harness):
    harness.require("webhook")
    inst = harness.create()
    now = datetime.now(timezone.utc)
    body = json.dumps(harness.fixtures["webhook"]["body"]).encode()
    headers = signed(harness, body, int(now.timestamp()), "delivery-7")
    handled = inst.handle_webhook(headers, body, now)
    assert handled.verdict.ok and handled.verdict.delivery_id == "delivery-7"
    assert len(handled.events) == harness.fixtures["webhook"]["expected_events"]
    assert all(e.provenance.webhook_delivery_id == "delivery-7" for e in handled.events)
    refused = inst.handle_webhook(headers, body + b" ", now)
    assert not refused.verdict.ok and refused.events == []


@pytest.mark.quality("ingest")
@pytest.mark.quality("webhooks")
async def test_webhook_payload_mapping(harness):
    harness.require("webhook")
    inst = harness.create()
    fx = harness.fixtures["webhook"]
    body = json.dumps(fx["body"]).encode()
    headers = signed(harness, body, int(time.time()))
    delivery = inst.verify_webhook(headers, body, None, datetime.now(timezone.utc)).delivery_id
    events = inst.webhook_events(headers, body, delivery)
    assert len(events) == fx["expected_events"]
    parsed = inst.parse_webhook(headers, body, delivery)
    assert len(parsed.record_errors) == fx.get("expected_record_errors", 0)
    assert_entities_valid(harness, inst, events)
    for e in events:
        assert e.provenance.webhook_delivery_id == delivery
        assert type(e) is MODELS[e.entity_type]
    again = inst.webhook_events(headers, body, delivery)
    assert [e.dedup_key() for e in again] == [e.dedup_key() for e in events], "replays must dedupe"
    for bad in fx.get("malformed_bodies", []):
        with pytest.raises(BadWebhookPayload):
            inst.webhook_events(headers, bad.encode(), delivery)


@pytest.mark.quality("manifest")
async def test_capabilities_match_behaviour(harness):
    inst = harness.create()
    if not harness.has("sync"):
        with pytest.raises(ConnectorError) as info:
            await collect(inst)
        assert info.value.error_class == "configuration"
        with pytest.raises(ConnectorError) as info:
            await inst.preview()
        assert info.value.error_class == "configuration"
    with pytest.raises(ConnectorError) as info:
        await inst.push("no_such_action", PushRequest())
    assert info.value.error_class == "configuration"
    assert inst.push_actions() == [a.name for a in harness.plugin.manifest.push]
    if not harness.has("webhook"):
        verdict = inst.verify_webhook({}, b"{}", {}, datetime.now(timezone.utc))
        assert not verdict.ok
        with pytest.raises(BadWebhookPayload):
            inst.webhook_events({}, b"{}", verdict.delivery_id)


# --- preview ----------------------------------------------------------------------------------


@pytest.mark.quality("preview")
async def test_preview_is_a_dry_run(harness):
    harness.require("sync")
    streams = harness.plugin.manifest.api.streams
    before = harness.control.state()["requests"]
    result = await harness.create().preview(max_pages=2)
    after = harness.control.state()["requests"]
    json.dumps(result.as_dict())
    expected = expected_counts(harness)
    per_path: Counter = Counter()
    for s in streams:  # two pages, and keyset paging's one request for the newest cursor first
        per_path[s.request.path] += 3 if s.pagination.type == "keyset" else 2
    for path, n in per_path.items():
        assert after.get(path, 0) - before.get(path, 0) <= n, f"preview read more than 2 pages of {path}"
    by_entity: Counter = Counter()
    for spec in streams:
        assert 1 <= result.pages[spec.name] <= 2
        by_entity[spec.mapping.entity] += expected.get(spec.name, 0)
    assert set(result.counts) == set(by_entity)
    for entity, n in result.counts.items():
        assert 0 < n < by_entity[entity], f"{entity}: preview should see some, not all (>= 3 pages) records"
        assert len(result.samples[entity]) == min(5, n)
        assert all(e.entity_type == entity for e in result.samples[entity])
    assert result.truncated
    assert_entities_valid(harness, harness.instances[-1], [e for v in result.samples.values() for e in v])
    assert not result.record_errors
    # nothing was persisted: a first sync afterwards still publishes everything
    assert len(events_of(await collect(harness.create(), None, None))) == sum(expected.values())


# --- push actions -------------------------------------------------------------------------------

DEFAULT_EVENTS = {
    "risk": {"title": "Conformance risk", "severity": "high", "status": "open"},
    "alert": {"title": "Conformance alert", "severity": "medium", "status": "new"},
    "indicator": {"indicator_type": "domain", "value": "evil.example", "severity": "high"},
    "vulnerability": {"title": "Conformance vulnerability", "severity": "critical", "status": "open"},
    "asset": {"name": "conformance-host", "asset_type": "host"},
}


def sample_event(h, entity_type: str, fields: dict | None = None):
    import uuid

    ctx = h.default_context
    ext = f"conformance-{uuid.uuid4()}"
    model = MODELS[entity_type]
    provenance = Provenance(installation_id=uuid.uuid4(), integration_key="conformance_source",
                            connector_version="1.0.0", stream="conformance", external_id=ext, raw_sha256="0" * 64)
    return model(entity_id=entity_id(org_id=ctx.org_id, integration_key="conformance_source",
                                     entity_type=entity_type, external_id=ext),
                 org_id=ctx.org_id, provenance=provenance, **(fields or DEFAULT_EVENTS[entity_type]))


def push_request(h, spec, vendor_id: str | None = None, event=None) -> PushRequest:
    fx = (h.fixtures.get("push") or {}).get(spec.name, {})
    if spec.kind in ON_VENDOR_OBJECT:
        assert event is not None, f"{spec.kind} needs the vendor object's event (status_target)"
        return PushRequest(event=event, changes=fx.get("changes") or {"status": "resolved"})
    if spec.input == "ticket":
        return PushRequest(vendor_id=vendor_id, changes=fx.get("changes") or {"title": "Updated by conformance"},
                           comment=fx.get("comment") or "Comment from the conformance suite.")
    return PushRequest(event=event or sample_event(h, spec.input, fx.get("event")))


def created(h) -> int:
    state = h.control.state()
    assert "created" in state, "push-capable simulators report 'created' in /_sim/state"
    return state["created"]


async def status_target(h, spec):
    """update_status, isolate_host and release_host act on an object the vendor already has: the first event of the fixture's
    ``push.<action>.from_stream``."""
    if spec.kind not in ON_VENDOR_OBJECT:
        return None
    stream = h.fixtures["push"][spec.name]["from_stream"]
    events = [e for b in await collect(h.create(), None, None) if b.stream == stream for e in b.events]
    assert events, f"{spec.name}: stream {stream} has no object to update"
    return events[0]


UPDATES = ("update_ticket", *ON_VENDOR_OBJECT)  # change an object: nothing is created


async def new_ticket(h, inst) -> str:
    creators = [a for a in h.plugin.manifest.push if a.kind == "create_ticket"]
    assert creators, "ticket actions (update_ticket, add_comment) need a create_ticket action"
    return (await inst.push(creators[0].name, push_request(h, creators[0]))).vendor_id


async def check_in_stream(h, vendor_id: str, stream: str | None, expect: dict | None) -> None:
    if not stream or not expect:
        return
    events = [e for b in await collect(h.create(), None, None) if b.stream == stream for e in b.events]
    match = [e for e in events if e.provenance.external_id == vendor_id]
    assert match, f"pushed object {vendor_id} not found in stream {stream}"
    for name, value in expect.items():
        assert getattr(match[0], name) == value, f"{name}: {getattr(match[0], name)!r} != {value!r}"


@pytest.mark.quality("push")
async def test_push_actions(harness):
    harness.require("push_actions")
    inst = harness.create()
    fixtures = harness.fixtures.get("push") or {}
    ticket, stream = None, None
    for spec in sorted(harness.plugin.manifest.push, key=lambda a: a.input == "ticket"):
        fx = fixtures.get(spec.name, {})
        if spec.input == "ticket" and ticket is None:
            ticket = await new_ticket(harness, inst)
        target = await status_target(harness, spec)
        before = created(harness)
        req = push_request(harness, spec, ticket, target)
        result = await inst.push(spec.name, req)
        assert result.vendor_id, f"{spec.name}: no vendor id"
        assert result.status == {"send_event": "sent", "create_ticket": "created", "update_ticket": "updated",
                                 "add_comment": "created", "update_status": "updated", "isolate_host": "updated",
                                 "release_host": "updated"}[spec.kind]
        assert json.loads(json.dumps(result.details)) == result.details
        assert created(harness) == before + (0 if spec.kind in UPDATES else 1), \
            f"{spec.name}: the simulator saw {created(harness) - before} creations"
        if spec.kind == "create_ticket":
            ticket, stream = result.vendor_id, fx.get("expect_in_stream")
            again = await inst.push(spec.name, req)  # the platform re-delivers the same request
            assert again.vendor_id == ticket and again.status == "duplicate" or spec.idempotency.strategy != "lookup"
            assert again.vendor_id == ticket, "a re-delivered create made a second object"
            assert created(harness) == before + 1
        if spec.kind == "update_ticket":
            assert result.vendor_id == ticket
        if target is not None:
            assert result.vendor_id == target.provenance.external_id
        await check_in_stream(harness, ticket if spec.input == "ticket" else result.vendor_id,
                              stream or fx.get("expect_in_stream"), fx.get("expect"))


@pytest.mark.quality("push")
async def test_push_lost_response_is_not_applied_twice(harness):
    """The vendor applies the write but the response is lost (5xx): an idempotent action is
    retried without a second object; a non-idempotent one is not re-sent (outcome unknown)."""
    harness.require("push_actions")
    inst = harness.create()
    ticket = None
    for spec in harness.plugin.manifest.push:
        if spec.input == "ticket" and ticket is None:
            ticket = await new_ticket(harness, inst)
        req = push_request(harness, spec, ticket, await status_target(harness, spec))
        before = created(harness)
        harness.control.faults(503, 1, after_write=True)
        if spec.idempotency.strategy == "none":
            with pytest.raises(ConnectorError) as info:
                await inst.push(spec.name, req)
            assert info.value.error_class == "transient" and getattr(info.value, "outcome_unknown", False)
        else:
            result = await inst.push(spec.name, req)
            assert result.vendor_id
            if spec.kind not in UPDATES:
                assert (await inst.push(spec.name, req)).vendor_id == result.vendor_id
        assert created(harness) == before + (0 if spec.kind in UPDATES else 1), \
            f"{spec.name}: applied {created(harness) - before} times"
        harness.control.clear_faults()


@pytest.mark.quality("push")
@pytest.mark.quality("error_classification")
async def test_push_errors_are_classified(harness):
    harness.require("push_actions")
    spec = harness.plugin.manifest.push[0]
    ticket = await new_ticket(harness, harness.create()) if spec.input == "ticket" else None
    target = await status_target(harness, spec)
    bad = harness.create(harness.config(**harness.fixtures["bad_config"]))
    with pytest.raises(ConnectorError) as info:
        await bad.push(spec.name, push_request(harness, spec, ticket, target))
    assert info.value.error_class == "authentication"
    for value in harness.fixtures["bad_config"].values():
        assert str(value) not in str(info.value)

    inst = harness.create()
    wrong = PushRequest(vendor_id=None) if spec.input != "ticket" else PushRequest(event=sample_event(harness, "risk"))
    before_requests = sum(harness.control.state()["requests"].values())
    with pytest.raises(ConnectorError) as info:
        await inst.push(spec.name, wrong)
    assert info.value.error_class == "permanent"
    assert sum(harness.control.state()["requests"].values()) == before_requests, "an invalid push reached the vendor"

    before = created(harness)
    harness.control.faults(429, 1, retry_after=1)
    start = time.monotonic()
    await inst.push(spec.name, push_request(harness, spec, ticket, target))
    assert time.monotonic() - start >= 0.95, "Retry-After was not waited out"
    assert created(harness) == before + (0 if spec.kind in UPDATES else 1)

    harness.control.faults(500, 50)
    with pytest.raises(ConnectorError) as info:
        await inst.push(spec.name, push_request(harness, spec, ticket, target))
    assert info.value.error_class == "transient"


# --- GraphQL vendors: the vendor's published schema (conformance.yaml ``graphql_schema``) ---------
#
# The manifest's documents must validate, the variables the connector sends must be accepted, and
# every answer of the seeded simulator must fit the result type of the query it answers - including
# nulls where the schema allows them in the fields the connector reads. Others skip.


def require_schema(h):
    schema = schema_for(h.plugin)
    if schema is None:
        pytest.skip(f"{h.key}: no graphql_schema declared in conformance.yaml")
    return schema


def test_manifest_graphql_documents_validate_against_the_schema(harness):
    schema = require_schema(harness)
    documents = manifest_documents(harness.plugin)
    assert documents, f"{harness.key} declares a GraphQL schema but its manifest sends no GraphQL document"
    problems = [f"{where}: {p}" for where, doc in documents for p in document_problems(schema, doc)]
    assert not problems, "\n".join(problems)


def read_paths(spec) -> set[str]:
    """Record paths a stream's mapping reads (fields, attributes, external id)."""
    mapping = spec.mapping
    paths: set[str] = set(mapping.attributes.values())
    ids = mapping.external_id if isinstance(mapping.external_id, list) else [mapping.external_id]
    for candidate in ids:
        paths.update(candidate if isinstance(candidate, list) else [candidate])
    for fspec in mapping.fields.values():
        if isinstance(fspec, str):
            paths.add(fspec)
            continue
        paths.update(p for p in [fspec.path, *(fspec.paths or []), *(fspec.coalesce or [])] if p)
    return {p.rstrip("?") for p in paths if "*" not in p and "[" not in p}


async def exchanges(h) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(request body, response body) of every GraphQL call the connector makes against the seeded
    simulator: connection test, health check, a full sync and each push action."""
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def capture(response) -> None:
        await response.aread()
        try:
            sent, answer = json.loads(response.request.content or b"null"), json.loads(response.text)
        except ValueError:
            return
        if isinstance(sent, dict) and isinstance(sent.get("query"), str):
            seen.append((sent, answer))
    h.http.event_hooks["response"].append(capture)
    try:
        inst = h.create()
        if h.has("test_connection"):
            await inst.test_connection()
        if h.has("health_check"):
            await inst.health_check()
        if h.has("sync"):
            await drain_sync(inst, None, uuid.uuid4())
        ticket = None
        for spec in sorted(h.plugin.manifest.push, key=lambda a: a.input == "ticket"):
            if spec.input == "ticket" and ticket is None:
                ticket = await new_ticket(h, inst)
            result = await inst.push(spec.name, push_request(h, spec, ticket, await status_target(h, spec)))
            if spec.kind == "create_ticket":
                ticket = result.vendor_id
    finally:
        h.http.event_hooks["response"].remove(capture)
    return seen


async def test_simulator_graphql_answers_match_the_schema(harness):
    """Variables the vendor accepts, answers of the result type (JSON types, enum values, non-null
    never null or absent), and the nulls the schema allows in the fields the connector reads
    actually served: a connector that assumes such a field is always set must meet a null."""
    h = harness
    schema = require_schema(h)
    calls = await exchanges(h)
    assert calls, f"{h.key}: the connector made no GraphQL call"
    problems: list[str] = []
    check = ResultCheck()
    for sent, answer in calls:
        name = sent.get("operationName")
        op = sent["query"].split("{", 1)[0].strip() or "query"
        problems += [f"{op}: variables: {p}" for p in variable_problems(schema, sent["query"], sent.get("variables"), name)]
        if answer.get("errors"):
            problems.append(f"{op}: answered with errors {answer['errors']}")
            continue
        before = len(check.problems)
        result_problems(schema, sent["query"], answer.get("data"), name, check)
        problems += [f"{op}: {p}" for p in check.problems[before:]]
    streams = h.plugin.manifest.api.streams if h.plugin.manifest.api else []
    for spec in streams:
        query = (spec.request.json_body or {}).get("query")
        if not query:
            continue
        for read in sorted(read_paths(spec)):
            nullable = first_nullable(schema, query, spec.record_selector, read)
            if nullable is not None and "null" not in check.observed.get(nullable, set()):
                problems.append(f"stream {spec.name}: {read!r} may be null ({nullable} is nullable in the schema) "
                                f"but the simulator never served a null there")
    assert not problems, "\n".join(sorted(set(problems))[:40])
