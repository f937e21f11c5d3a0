"""Pure-function parts of the SDK (no HTTP involved)."""

from __future__ import annotations

import json
import uuid
import time

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.errors import ManifestError
from aria_connectors.sdk.http import RateLimiter, RetryPolicy, parse_retry_after, vendor_message
from aria_connectors.sdk.manifest import SCHEMA_PATH, RateLimits, generated_schema, validate_manifest_dict
from aria_connectors.sdk.mapping import CompiledMapping, cursor_key
from aria_connectors.sdk.templates import render


def test_shipped_schema_is_current():
    shipped = json.loads(SCHEMA_PATH.read_text())
    assert shipped == json.loads(json.dumps(generated_schema())), \
        "run: uv run python -m aria_connectors.sdk.manifest"


def test_manifest_schema_rejects_bad_manifests():
    good = __import__("yaml").safe_load((registry.get("crowdstrike_falcon").directory / "manifest.yaml").read_text())
    validate_manifest_dict(good)
    for broken in ({**good, "category": "toaster"}, {**good, "unknown": 1}, {k: v for k, v in good.items() if k != "key"},
                   {**good, "capabilities": ["webhook"]}):
        with pytest.raises(ManifestError):
            validate_manifest_dict(broken)


def test_keyset_pagination_needs_an_incremental_cursor_filtered_by_a_parameter():
    good = __import__("yaml").safe_load((registry.get("crowdstrike_falcon").directory / "manifest.yaml").read_text())
    alerts = good["api"]["streams"][0]
    assert alerts["pagination"]["type"] == "keyset"
    without_cursor = {k: v for k, v in alerts.items() if k != "incremental"}
    in_body = {**alerts, "incremental": {**alerts["incremental"], "filter_in_body": True}}
    for stream in (without_cursor, in_body):
        broken = {**good, "capabilities": ["sync", "test_connection"], "api": {**good["api"], "streams": [stream]}}
        with pytest.raises(ManifestError, match="keyset pagination needs an incremental cursor"):
            validate_manifest_dict(broken)


def test_keyset_pagination_needs_exactly_one_source_of_the_total():
    """The total tells a shifted run of equal cursor values and the range's end: without it a
    keyset stream could skip records, with two sources it would be ambiguous."""
    good = __import__("yaml").safe_load((registry.get("servicenow_itsm").directory / "manifest.yaml").read_text())
    incidents = good["api"]["streams"][0]
    assert incidents["pagination"]["total_header"] == "X-Total-Count"
    neither = {k: v for k, v in incidents["pagination"].items() if k != "total_header"}
    both = {**incidents["pagination"], "total_path": "result.total"}
    for pagination in (neither, both):
        broken = {**good, "api": {**good["api"], "streams": [{**incidents, "pagination": pagination}]}}
        with pytest.raises(ManifestError, match="exactly one of total_path and total_header"):
            validate_manifest_dict(broken)


def test_retry_after_forms():
    now = 1_700_000_000.0
    assert parse_retry_after("1", now) == 1
    assert parse_retry_after(str(int(now) + 3), now) == 3  # CrowdStrike's epoch X-RateLimit-RetryAfter
    assert parse_retry_after("Tue, 14 Nov 2023 22:13:25 GMT", now) == pytest.approx(5, abs=1)
    assert parse_retry_after("soon", now) is None and parse_retry_after(None) is None
    assert parse_retry_after(str(int(time.time()) - 10)) == 0


def test_cursor_keys_keep_nanoseconds_and_timezones():
    a = cursor_key("2024-05-01T00:00:00.000000001Z", "datetime")
    b = cursor_key("2024-05-01T00:00:00.000000002Z", "datetime")
    assert a < b
    assert cursor_key("2024-05-01T02:00:00+02:00", "datetime") == cursor_key("2024-05-01T00:00:00Z", "datetime")
    assert cursor_key("2024-05-01T00:00:00.5Z", "datetime") > cursor_key("2024-05-01T00:00:00.49Z", "datetime")


def test_templates():
    ctx = {"settings": {"u": "https://x"}, "ids": ["a", "b"]}
    assert render("{settings.u}/p", ctx) == "https://x/p"
    assert render({"ids": "{ids}"}, ctx) == {"ids": ["a", "b"]}
    with pytest.raises(KeyError):
        render("{secrets.nope}", ctx)


def test_config_errors_never_echo_secrets():
    plugin = registry.get("crowdstrike_falcon")
    secret = "S3CRET-VALUE-" + "x" * 300  # too long: maxLength fails on the secret itself
    errors = plugin.validate_config({"base_url": "https://api.crowdstrike.com", "client_id": "a",
                                     "client_secret": secret, "extra": secret})
    assert errors and all(secret not in e.message for e in errors)
    wh = registry.get("generic_webhook")
    errors = wh.validate_config({"signing_secret": "short-secret"})
    assert [e.path for e in errors] == ["signing_secret"] and "short-secret" not in errors[0].message


def test_retry_after_epoch_milliseconds():
    now = 1_700_000_000.0
    assert parse_retry_after(str(int((now + 2) * 1000)), now) == pytest.approx(2)


def test_error_rules_classify_by_body():
    import httpx

    from aria_connectors.sdk.http import status_of
    from aria_connectors.sdk.manifest import ErrorRule

    rules = [ErrorRule(path="errors.0.extensions.code", equals=["RATELIMITED"], error_class="rate_limited"),
             ErrorRule(status=[200], path="errors.0.message", error_class="permanent")]
    limited = httpx.Response(400, json={"errors": [{"message": "x", "extensions": {"code": "RATELIMITED"}}]})
    assert status_of(limited, rules) == 429
    assert status_of(httpx.Response(200, json={"errors": [{"message": "nope"}]}), rules) == 400
    assert status_of(httpx.Response(200, json={"data": {}}), rules) == 200
    assert status_of(httpx.Response(502, text="not json"), rules) == 502


def test_push_helpers_and_manifest_rules():
    from aria_connectors.sdk.paths import set_path
    from aria_connectors.sdk.push import prune_nulls
    from aria_connector_testkit.quality import tier_of

    assert prune_nulls({"a": None, "b": {"c": None}, "d": {"e": 1, "f": None}, "g": [None, 1], "h": ""}) == \
        {"d": {"e": 1}, "g": [1], "h": ""}
    assert set_path({"v": {"a": 1}}, "v.b.c", 2) == {"v": {"a": 1, "b": {"c": 2}}}
    assert set_path(None, "x", 1) == {"x": 1}
    passing = dict.fromkeys(("manifest", "auth", "ingest"), "pass")
    assert tier_of({}) == "unrated" and tier_of(passing) == "bronze"
    silver = {**passing, **dict.fromkeys(("incremental", "rate_limits", "error_classification"), "pass")}
    assert tier_of(silver) == "silver"
    assert tier_of({**silver, "health": "pass", "preview": "pass", "webhooks": "n/a", "push": "pass"}) == "silver"
    assert tier_of({**silver, "health": "pass", "preview": "pass", "webhooks": "n/a", "push": "pass", "replay": "pass"}) == "gold"
    assert tier_of({**silver, "health": "pass", "preview": "fail", "push": "pass"}) == "silver"

    good = __import__("yaml").safe_load((registry.get("jira_cloud").directory / "manifest.yaml").read_text())
    validate_manifest_dict(good)
    unsafe = json.loads(json.dumps(good))
    unsafe["push"][0]["idempotency"] = {"strategy": "none"}
    no_cap = {**good, "capabilities": [c for c in good["capabilities"] if c != "push_actions"]}
    bad_input = json.loads(json.dumps(good))
    bad_input["push"][1]["input"] = "risk"
    for broken in (unsafe, no_cap, bad_input):
        with pytest.raises(ManifestError):
            validate_manifest_dict(broken)


def test_catalog_entry_reports_earned_quality():
    entry = registry.get("jira_cloud").manifest.catalog_entry()
    assert entry["quality_tier"] in ("unrated", "bronze", "silver", "gold")
    assert [a["name"] for a in entry["push_actions"]] == ["create_ticket", "update_ticket", "add_comment"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_rate_limiter_buckets_burst_and_vendor_pauses(monkeypatch):
    clock = FakeClock()
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(round(seconds, 6))
        clock.now += seconds

    monkeypatch.setattr("aria_connectors.sdk.http.asyncio.sleep", fake_sleep)
    # 60/min with bursts of 2, and 100/hour: two calls at once, then one a second
    limiter = RateLimiter(RateLimits(requests_per_minute=60, burst=2, requests_per_hour=100), clock=clock)
    for _ in range(4):
        await limiter.acquire()
    assert sleeps == [1.0, 1.0]
    # the hour bucket (100 calls) runs dry after 100 calls: the next waits 36 s for one refill
    hourly = RateLimiter(RateLimits(requests_per_hour=3), clock=clock)
    for _ in range(4):
        await hourly.acquire()
    assert sleeps[-1] == pytest.approx(1200.0)
    # a 429's wait and a spent vendor budget (remaining 0 until the reset header) pause every call
    limits = RateLimits(remaining_header="X-Remaining", reset_header="X-Reset")
    paused = RateLimiter(limits, clock=clock)
    paused.observe(httpx.Response(200, headers={"X-Remaining": "5", "X-Reset": "30"}), limits)
    await paused.acquire()
    assert sleeps[-1] == pytest.approx(1200.0)  # budget left: no wait
    paused.observe(httpx.Response(200, headers={"X-Remaining": "0", "X-Reset": "30"}), limits)
    await paused.acquire()
    assert sleeps[-1] == pytest.approx(30.0)
    paused.pause_for(7)
    await paused.acquire()
    assert sleeps[-1] == pytest.approx(7.0)


def test_backoff_kinds_and_iso_reset():
    exp = RetryPolicy(max_retries=5, backoff_base=1, backoff_max=30, max_retry_after=60, max_throttled=20)
    lin = RetryPolicy(max_retries=5, backoff_base=1, backoff_max=30, max_retry_after=60, max_throttled=20,
                      linear=True)
    assert [exp.backoff(a) for a in range(4)] == [1, 2, 4, 8]
    assert [lin.backoff(a) for a in range(4)] == [1, 2, 3, 4]
    assert parse_retry_after("2024-01-01T00:00:30Z", now=1704067200.0) == 30.0  # Jira X-RateLimit-Reset


def test_vendor_message_reads_error_objects():
    """``{"error": {"message": ...}}`` (Elasticsearch-style, ServiceNow adds ``detail``)."""
    resp = httpx.Response(400, json={"error": {"message": "Invalid table", "detail": "incident2 not found"}})
    assert vendor_message(resp) == "Invalid table; incident2 not found"
    resp = httpx.Response(400, json={"error": {"type": "parsing_exception", "reason": "unknown query [mtch]"}})
    assert vendor_message(resp) == "unknown query [mtch]"


def test_wildcard_and_coalesce_paths():
    from aria_connectors.sdk.manifest import FieldSpec
    from aria_connectors.sdk.mapping import _field_value
    from aria_connectors.sdk.paths import get_path

    rec = {"KB": {"CVE_LIST": [{"ID": "CVE-1"}, {"URL": "x"}, {"ID": "CVE-2"}]},
           "nics": [{"inet": ["10.0.0.1", "10.0.0.2"]}, {"inet": ["10.0.0.3"]}], "alias": "", "name": "srv"}
    assert get_path(rec, "KB.CVE_LIST.*.ID") == ["CVE-1", "CVE-2"]
    assert get_path(rec, "nics.*.inet.*") == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert get_path(rec, "name.*") is None and get_path(rec, "missing.*") is None
    assert _field_value(rec, "cve_ids", FieldSpec(paths=["KB.CVE_LIST.*.ID"])) == ["CVE-1", "CVE-2"]
    assert _field_value(rec, "hostname", FieldSpec(coalesce=["fqdn", "alias", "name"])) == "srv"
    assert _field_value(rec, "hostname", FieldSpec(coalesce=["fqdn"], default="n/a")) == "n/a"
    with pytest.raises(ValueError):
        FieldSpec(path="a", coalesce=["b"])


def test_host_names_keep_one_meaning_per_field_across_vendors():
    from aria_connectors.sdk.manifest import FieldSpec
    from aria_connectors.sdk.mapping import _field_value

    rec = {"dns": "WKS-01.corp.example.com.", "short": "WKS-01", "ip": "10.0.0.7"}
    assert _field_value(rec, "hostname", FieldSpec(path="dns", host="short")) == "WKS-01"
    assert _field_value(rec, "fqdn", FieldSpec(path="dns", host="fqdn")) == "WKS-01.corp.example.com"
    assert _field_value(rec, "fqdn", FieldSpec(path="short", host="fqdn")) is None
    # a host scanned by address only has no name: neither field takes its IP
    assert _field_value(rec, "hostname", FieldSpec(path="ip", host="short")) is None
    assert _field_value(rec, "hostname", FieldSpec(coalesce=["ip"], host="short", default="n/a")) == "n/a"


def test_a_compiled_mapping_fails_records_with_the_reasons_of_the_field_by_field_mapping():
    import uuid

    from aria_connectors.errors import MappingError
    from aria_connectors.sdk.manifest import MappingSpec
    from aria_connectors.sdk.mapping import CompiledMapping

    def reason(record, **fields):
        spec = MappingSpec(entity="risk", external_id="id", fields={"title": "name", "status": {"const": "open"},
                                                                      "severity": {"path": "sev", "map": {"5": "high"}},
                                                                      **fields})
        with pytest.raises(MappingError) as failed:
            CompiledMapping(spec).map(record, org_id=uuid.uuid4(), integration_key="x", provenance={
                "installation_id": uuid.uuid4(), "integration_key": "x", "connector_version": "1", "stream": "s"})
        return str(failed.value)

    assert reason({"name": "n", "sev": 5}) == "missing external id at 'id'"
    assert reason({"id": 1, "name": "n", "sev": 4}) == "field 'severity': value not in map"
    assert reason({"id": 1, "name": "n", "sev": 5}, color="hue") == "Risk has no field 'color'"
    # identity and provenance are the platform's: a mapping cannot set them
    assert reason({"id": 1, "name": "n", "sev": 5}, entity_id="id") == "Risk has no field 'entity_id'"
    assert reason({"id": 1, "name": ["n"], "sev": 5}) == "Risk validation failed (title: string_type)"


def test_auth_choice_follows_the_configuration():
    from aria_connectors.errors import ConfigurationError
    from aria_connectors.sdk.manifest import ApiKeyAuth, BasicAuth, ChoiceAuth, choose_auth

    spec = ChoiceAuth.model_validate({"type": "choice", "options": [
        {"when": ["api_key"], "auth": {"type": "api_key", "header": "Authorization", "value": "{secrets.api_key}"}},
        {"when": ["username", "password"], "auth": {"type": "basic", "username": "{settings.username}",
                                                    "password": "{secrets.password}"}}]})
    assert isinstance(choose_auth(spec, {"api_key": "k", "username": "u", "password": "p"}), ApiKeyAuth)
    assert isinstance(choose_auth(spec, {"api_key": "", "username": "u", "password": "p"}), BasicAuth)
    with pytest.raises(ConfigurationError, match="api_key or username\\+password"):
        choose_auth(spec, {"username": "u"})


async def test_initialize_fails_fast_on_missing_configuration():
    import uuid

    from aria_connectors.errors import ConfigurationError
    from aria_connectors.sdk import InstallationContext

    plugin = registry.get("crowdstrike_falcon")
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), plugin.key)
    async with httpx.AsyncClient() as http:
        await plugin.create(ctx, {"client_id": "id"}, {"client_secret": "s"}, http).initialize()
        with pytest.raises(ConfigurationError, match="settings.client_id"):
            await plugin.create(ctx, {}, {"client_secret": "s"}, http).initialize()


def test_raw_hash_is_the_hash_of_canonical_json_for_values_orjson_writes_differently():
    # raw_sha256 takes a faster encoder where it provably writes the same bytes: dedup keys must
    # not change for any record, including those it writes differently.
    import hashlib

    from aria_connectors.sdk.mapping import canonical_json, raw_sha256

    records = [
        {"id": "a", "n": 1, "ok": True, "none": None, "list": [1, "x", None], "nested": {"b": 2, "a": [{"z": 1}]}},
        {"name": "Zoë", "city": "東京", "emoji": "😀", "sep": "\u2028"},  # non-ASCII: \u-escaped by json
        {"ctrl": "\x00\x1f\n\t\b\f\r\"\\/", "del": "\x7f"},
        {"small": 1e-05, "tiny": 1e-07, "tinier": 1.5e-10, "edge": 0.0001, "big": 1e16, "huge": 1e22},
        {"nan": float("nan"), "inf": float("inf"), "ninf": -float("inf"), "null": None},
        {"int64": 2**63 - 1, "past64": 2**64 + 5, "neg": -(2**63) - 1},
        {"mac": "77-51-33-7e-7b-88", "fake_exponent": "x:1e-7,", "version": "10.00001"},
        {"at": "2024-05-01T00:02:00.000015838Z", "lookalike": "x:0.00001", "scores": [0.00001, -1e-05, 3]},
        [1e-7], [-1e-05], 1e-05, "plain", None, [],
    ]
    for record in records:
        assert raw_sha256(record) == hashlib.sha256(canonical_json(record).encode()).hexdigest(), record


def test_webhook_single_record_object_typed_by_its_envelope():
    """``records_path`` may lead to one record object (Jira's ``issue``); its type is then the
    body's ``type_field`` (Jira's ``webhookEvent``): an unknown event is a counted record error,
    a body without the object is malformed. A list at records_path keeps typing each record."""
    import uuid
    from datetime import datetime, timezone

    from aria_connectors.errors import BadWebhookPayload
    from aria_connectors.sdk import InstallationContext
    from aria_connectors.sdk.plugin import ConnectorPlugin
    from aria_connectors.sdk.webhook import sign

    mapping = {"entity": "risk", "external_id": "key",
               "fields": {"title": "title", "severity": {"const": "low"}, "status": {"const": "open"}}}
    manifest = {
        "key": "envelope_test", "name": "Envelope test", "vendor": "Test", "product": "Test", "category": "custom",
        "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
        "capabilities": ["webhook"], "data_types": ["risk"], "auth_methods": ["hmac_signature"],
        "config_schema": {"type": "object", "properties": {"secret": {"type": "string", "x-secret": True}}},
        "webhook": {"signature": {"header": "X-Hub-Signature", "prefix": "sha256=", "secret_field": "secret"},
                    "payload": {"records_path": "issue", "type_field": "event",
                                "types": {"created": mapping, "updated": mapping}}},
    }
    plugin = ConnectorPlugin(validate_manifest_dict(manifest))
    inst = plugin.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), plugin.key), {}, {"secret": "s"}, None)
    now = datetime.now(timezone.utc)

    def handle(body: dict):
        raw = json.dumps(body).encode()
        return inst.handle_webhook(sign(plugin.manifest.webhook, "s", raw), raw, now)

    handled = handle({"event": "updated", "issue": {"key": "SEC-1", "title": "t"}})
    assert handled.verdict.ok and [e.provenance.external_id for e in handled.events] == ["SEC-1"]
    assert handled.events[0].provenance.stream == "webhook.updated"
    skipped = handle({"event": "deleted", "issue": {"key": "SEC-1", "title": "t"}})
    assert skipped.events == [] and "unsupported type" in skipped.record_errors[0].reason
    with pytest.raises(BadWebhookPayload):
        handle({"event": "updated", "comment": {}})

    manifest["webhook"]["payload"] = {"records_path": "items", "type_field": "event", "types": {"created": mapping}}
    listed = ConnectorPlugin(validate_manifest_dict(manifest)).create(
        InstallationContext(uuid.uuid4(), uuid.uuid4(), plugin.key), {}, {"secret": "s"}, None)
    raw = json.dumps({"event": "created", "items": [{"event": "created", "key": "A", "title": "t"},
                                                    {"event": "other", "key": "B", "title": "t"}]}).encode()
    parsed = listed.parse_webhook({}, raw, "d-1")
    assert [e.provenance.external_id for e in parsed.events] == ["A"] and len(parsed.record_errors) == 1


def _mapped(spec_fields: dict, record: dict, external_id="id", entity="vulnerability"):
    import uuid

    from aria_connectors.sdk.manifest import MappingSpec
    from aria_connectors.sdk.mapping import CompiledMapping

    spec = MappingSpec(entity=entity, external_id=external_id, fields=spec_fields)
    return CompiledMapping(spec).map(record, org_id=uuid.uuid4(), integration_key="x", provenance={
        "installation_id": uuid.uuid4(), "integration_key": "x", "connector_version": "1", "stream": "s"})


VULN = {"title": "title", "severity": {"path": "sev", "map": {"4": "high"}, "map_default": "info"}, "status": {"const": "open"}}


def test_identity_candidates_and_composite_keys():
    """A record with no id of its own is identified by the natural key the vendor gives (Tenable
    export findings: asset + plugin + port + protocol; Qualys detections: host + QID (+ port))."""
    from aria_connectors.errors import MappingError

    identity = ["finding_id", ["asset.uuid", "plugin.id", "port.port?", "port.protocol?"]]
    record = {"asset": {"uuid": "a-1"}, "plugin": {"id": 97833}, "port": {"port": 445, "protocol": "TCP"}}
    assert _mapped(VULN, {**record, "title": "x"}, identity).provenance.external_id == "a-1:97833:445:TCP"
    assert _mapped(VULN, {**record, "title": "x", "finding_id": "f-9"}, identity).provenance.external_id == "f-9"
    no_port = {k: v for k, v in record.items() if k != "port"}
    assert _mapped(VULN, {**no_port, "title": "x"}, identity).provenance.external_id == "a-1:97833::"
    with pytest.raises(MappingError, match="missing external id at 'finding_id' or asset.uuid\\+plugin.id"):
        _mapped(VULN, {"title": "x", "asset": {"uuid": "a-1"}}, identity)


def test_declared_time_formats_always_publish_an_offset():
    from aria_connectors.errors import MappingError

    fields = {**VULN, "first_found": {"path": "opened", "time": {"zone": "UTC"}},
              "last_found": {"path": "indexed", "time": {"format": "epoch_s"}}}
    event = _mapped(fields, {"id": 1, "title": "x", "opened": "2016-12-12 15:19:57", "indexed": "1700000000"})
    assert event.first_found.isoformat() == "2016-12-12T15:19:57+00:00"
    assert event.last_found.isoformat() == "2023-11-14T22:13:20+00:00"
    zoned = {**VULN, "first_found": {"path": "opened", "time": {"zone": "America/New_York"}}}
    assert _mapped(zoned, {"id": 1, "title": "x", "opened": "2024-01-05 09:00:00"}).first_found.utcoffset().total_seconds() == -5 * 3600
    # an offset in the text wins over the zone; seven fractional digits (Microsoft) are read
    assert _mapped(zoned, {"id": 1, "title": "x", "opened": "2024-01-05T09:00:00.1234567Z"}).first_found.isoformat() == \
        "2024-01-05T09:00:00.123456+00:00"
    with pytest.raises(MappingError, match="'first_found': timestamp without a UTC offset"):
        _mapped({**VULN, "first_found": {"path": "opened", "time": {}}}, {"id": 1, "title": "x", "opened": "2016-12-12 15:19:57"})
    # undeclared, a naive timestamp is refused by the contract rather than published without a zone
    with pytest.raises(MappingError, match="first_found: timezone_aware"):
        _mapped({**VULN, "first_found": "opened"}, {"id": 1, "title": "x", "opened": "2016-12-12 15:19:57"})
    with pytest.raises(ManifestError, match="unknown time zone"):
        good = json.loads(json.dumps(__import__("yaml").safe_load((registry.get("servicenow_itsm").directory / "manifest.yaml").read_text())))
        good["api"]["streams"][0]["mapping"]["fields"]["first_seen"]["time"]["zone"] = "Mars/Olympus"
        validate_manifest_dict(good)


def test_map_default_applies_to_an_absent_field():
    """Splunk notables may carry no status at all: the declared default applies, not a dropped record."""
    assert _mapped(VULN, {"id": 1, "title": "x"}).severity == "info"
    assert _mapped(VULN, {"id": 1, "title": "x", "sev": 9}).severity == "info"
    assert _mapped(VULN, {"id": 1, "title": "x", "sev": 4}).severity == "high"


def test_map_keys_match_a_number_however_the_vendor_writes_it():
    """Linear's Issue.priority is a Float in its schema: 1, 1.0 and "1" are one priority."""
    urgent = {**VULN, "severity": {"path": "sev", "map": {"1": "critical", "0": "info"}}}
    assert [_mapped(urgent, {"id": 1, "title": "x", "sev": v}).severity for v in (1, 1.0, "1", 0.0)] == \
        ["critical", "critical", "critical", "info"]


def test_tenable_findings_without_indexed_at_move_the_cursor_by_indexed():
    """Tenable's newer exports carry indexed (ISO) and no indexed_at (epoch seconds): the declared
    cursor_coalesce reads it, so such a finding moves the cursor instead of being re-read forever."""
    from aria_connector_testkit.corpus import cases, records_of
    from aria_connectors.sdk.paging import record_cursor

    plugin = registry.get("tenable_vm")
    inc = plugin.manifest.stream("vulnerabilities").incremental
    by_case = {c.name: records_of(plugin, c) for c in cases(plugin) if c.target == "vulnerabilities"}
    assert record_cursor(by_case["agent_info_no_indexed_at"][0], inc) == "2024-06-14T07:21:57.744162Z"
    assert record_cursor(by_case["docs_example_cvss2_epoch_string"][0], inc) == \
        by_case["docs_example_cvss2_epoch_string"][0]["indexed_at"]
    assert cursor_key("2024-06-14T07:21:57.744162Z", "datetime") > cursor_key("1590006395", "datetime")


def test_sentinel_alert_tactics_list_publishes_a_mitre_tactic():
    """SecurityAlert.Tactics is a comma-separated list ("InitialAccess, Persistence"): the alert's
    tactic is one MITRE tactic of it, never the list as one string."""
    spec = registry.get("microsoft_sentinel").manifest.stream("security_alerts").mapping
    record = {"SystemAlertId": "a-1", "AlertName": "x", "AlertSeverity": "Medium", "Status": "New",
              "StartTime": "2024-01-05T09:00:00Z", "Tactics": "InitialAccess, Persistence"}
    event = CompiledMapping(spec).map(record, org_id=uuid.uuid4(), integration_key="x", provenance={
        "installation_id": uuid.uuid4(), "integration_key": "x", "connector_version": "1", "stream": "s"})
    assert event.tactic == "InitialAccess"
    assert event.attributes["tactics"] == "InitialAccess, Persistence"  # all of them, as the vendor wrote them
    one = CompiledMapping(spec).map({**record, "Tactics": "Execution"}, org_id=uuid.uuid4(), integration_key="x",
                                    provenance={"installation_id": uuid.uuid4(), "integration_key": "x",
                                                "connector_version": "1", "stream": "s"})
    assert one.tactic == "Execution"


def test_cursor_keys_read_epoch_seconds_written_as_text():
    assert cursor_key("1700000000", "datetime") == cursor_key(1700000000, "datetime") == \
        cursor_key("2023-11-14T22:13:20Z", "datetime")


def test_matches_and_bands_keep_vendor_quirks_declarative():
    """Defender's vulnerability id is a CVE id only sometimes (else TVM-...); CrowdStrike identity
    alerts carry a 1-100 severity without its name."""
    cve = {**VULN, "cve_ids": {"path": "id", "matches": "CVE-\\d{4}-\\d{4,}", "as_list": True}}
    assert _mapped(cve, {"id": "CVE-2021-44228", "title": "x"}).cve_ids == ["CVE-2021-44228"]
    assert _mapped(cve, {"id": "TVM-2020-0002", "title": "x"}).cve_ids == []
    banded = {**VULN, "severity": {"coalesce": ["name", "score"], "bands": [[90, "Critical"], [70, "High"], [0, "Low"]],
                                   "map": {"Critical": "critical", "High": "high", "Low": "low"}}}
    assert _mapped(banded, {"id": 1, "title": "x", "score": 75}).severity == "high"
    assert _mapped(banded, {"id": 1, "title": "x", "score": 95, "name": "Low"}).severity == "low"
    assert _mapped(banded, {"id": 1, "title": "x", "score": 3}).severity == "low"


def test_destination_settings_come_from_base_url_token_url_and_push_endpoints():
    """The settings that decide where a credential goes (issue 17 item 1), read from each manifest."""
    destinations = {key: plugin.manifest.destination_settings() for key, plugin in registry.discover().items()}
    assert destinations["crowdstrike_falcon"] == {"base_url"}
    assert destinations["microsoft_defender_endpoint"] == {"api_url", "login_url", "tenant_id"}  # token_url too
    assert destinations["splunk"] == {"base_url", "hec_url"}  # the HEC push action's own endpoint
    assert destinations["servicenow_itsm"] == {"instance_url"}
    for key, plugin in registry.discover().items():
        if plugin.manifest.api is not None:
            assert destinations[key], f"{key}: a connector that calls out has a destination setting"


def test_a_url_the_http_client_cannot_call_is_refused_when_configured():
    """Issue 17 item 6: an octal IPv4 host passed validation and failed every call later (a 500)."""
    plugin = registry.get("crowdstrike_falcon")
    config = {"base_url": "http://0177.0.0.1/", "client_id": "id", "client_secret": "secret"}
    errors = plugin.validate_config(config)
    assert [e.path for e in errors] == ["base_url"]
    assert errors[0].message.startswith("not a valid uri: Invalid IPv4 address")
    assert plugin.validate_config({**config, "base_url": "https://api.crowdstrike.com"}) == []
