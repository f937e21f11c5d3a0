"""SDK components added with the application-security connectors: Veracode request signing,
client-side incremental cursors, resumable next-URL sessions."""

from __future__ import annotations

import hashlib
import hmac

import httpx
import pytest
import yaml

from aria_connectors import registry
from aria_connectors.errors import ManifestError
from aria_connectors.sdk.http import ApiClient, Authenticator, RetryPolicy
from aria_connectors.sdk.manifest import RateLimits, VeracodeHmacAuth, validate_manifest_dict
from aria_connectors.sdk.veracode_hmac import authorization, signature

KEY_ID = "3ddaeeb10ca690df3fee5e3bd1c329fa"
SECRET = "0123456789abcdef" * 8


def _documented(secret_hex: str, data: str, ts: int, nonce_hex: str) -> str:
    """Veracode's documented chain, written out step by step apart from the SDK."""
    k1 = hmac.new(bytes.fromhex(secret_hex), bytes.fromhex(nonce_hex), hashlib.sha256).digest()
    k2 = hmac.new(k1, str(ts).encode(), hashlib.sha256).digest()
    k3 = hmac.new(k2, b"vcode_request_version_1", hashlib.sha256).digest()
    return hmac.new(k3, data.encode(), hashlib.sha256).hexdigest()


def test_veracode_signature_follows_the_documented_chain():
    nonce, ts = "00112233445566778899aabbccddeeff", 1700000000000
    data = f"id={KEY_ID}&host=api.veracode.com&url=/appsec/v1/applications?page=0&size=50&method=GET"
    assert signature(SECRET, data, ts, nonce) == _documented(SECRET, data, ts, nonce)
    header = authorization(KEY_ID.upper(), SECRET, "get", "https://API.Veracode.com/appsec/v1/applications?page=0&size=50",
                           timestamp_ms=ts, nonce=nonce)
    scheme, _, fields = header.partition(" ")
    parts = dict(p.split("=", 1) for p in fields.split(","))
    assert scheme == "VERACODE-HMAC-SHA-256"
    assert parts == {"id": KEY_ID.upper(), "ts": str(ts), "nonce": nonce, "sig": _documented(SECRET, data, ts, nonce)}
    with pytest.raises(ValueError):
        signature("not-hex", data, ts, nonce)


async def test_api_client_signs_the_url_it_sends():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        fields = dict(p.split("=", 1) for p in request.headers["authorization"].split(" ", 1)[1].split(","))
        data = (f"id={KEY_ID}&host={request.url.host}&url={request.url.raw_path.decode()}"
                f"&method={request.method}")
        ok = fields["sig"] == _documented(SECRET, data, int(fields["ts"]), fields["nonce"])
        return httpx.Response(200 if ok else 401, json={})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        ctx = {"settings": {"id": KEY_ID}, "secrets": {"key": SECRET}}
        retry = RetryPolicy.build(RateLimits(), __import__("aria_connectors").RuntimeOptions())
        spec = VeracodeHmacAuth(type="veracode_hmac", key_id="{settings.id}", key_secret="{secrets.key}")
        auth = Authenticator(spec, ctx, "https://api.veracode.com", http, retry)
        api = ApiClient(base_url="https://api.veracode.com", auth=auth, http=http, retry=retry, limits=RateLimits(),
                        default_headers={}, timeout=5)
        await api.request("GET", "/appsec/v2/applications/a-b/findings", params={"scan_type": "STATIC,SCA", "page": 1})
        await api.request("GET", "https://api.veracode.com/appsec/v1/applications?page=1&size=50")
    assert [r.url.raw_path.decode() for r in seen] == [
        "/appsec/v2/applications/a-b/findings?scan_type=STATIC%2CSCA&page=1", "/appsec/v1/applications?page=1&size=50"]


def test_incremental_needs_a_filter_unless_client_side():
    good = yaml.safe_load((registry.get("snyk").directory / "manifest.yaml").read_text())
    projects = good["api"]["streams"][1]
    assert projects["incremental"]["client_side"] is True
    validate_manifest_dict(good)
    server_side = {k: v for k, v in projects["incremental"].items() if k != "client_side"}
    broken = {**good, "api": {**good["api"], "streams": [good["api"]["streams"][0], {**projects, "incremental": server_side}]}}
    with pytest.raises(ManifestError, match="filter_param and filter_template"):
        validate_manifest_dict(broken)


async def test_unordered_listing_keeps_its_anchor_until_the_end():
    """A next-URL session (Snyk) stopped after its first page resumes at the vendor's next URL and
    moves the cursor only when the listing is finished."""
    from aria_connector_testkit import fixtures, simulator_factory
    from aria_connector_testkit.testing import SimulatorServer
    from aria_connectors import InstallationContext, RuntimeOptions
    import uuid

    plugin = registry.get("snyk")
    fx = fixtures(plugin)
    app = simulator_factory(plugin)(**{**fx["simulator"]["options"], "projects": 0})
    with SimulatorServer(app) as server:
        config = {**fx["config"], "base_url": server.url}
        settings, secrets = plugin.split_config(config)
        async with httpx.AsyncClient() as http:
            def create():
                return plugin.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), "snyk"), settings, secrets, http,
                                     options=RuntimeOptions(page_size=5))
            first = None
            async for batch in create().sync(None, None, streams=["issues"]):
                first = batch
                break
            state = first.checkpoint["streams"]["issues"]
            assert state["cursor"] is None and state["pending"]["next"].startswith(server.url)
            rest = [b async for b in create().sync(first.checkpoint, None, streams=["issues"])]
            ids = [e.provenance.external_id for b in [first, *rest] for e in b.events]
            assert len(ids) == len(set(ids)) == fx["simulator"]["options"]["issues"]
            final = rest[-1].checkpoint["streams"]["issues"]
            assert "pending" not in final and final["cursor"] is not None
