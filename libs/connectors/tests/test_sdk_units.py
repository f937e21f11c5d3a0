"""Pure-function parts of the SDK (no HTTP involved)."""

from __future__ import annotations

import json
import time

import pytest

from aria_connectors import registry
from aria_connectors.errors import ManifestError
from aria_connectors.sdk.http import parse_retry_after
from aria_connectors.sdk.manifest import SCHEMA_PATH, generated_schema, validate_manifest_dict
from aria_connectors.sdk.mapping import cursor_key
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
