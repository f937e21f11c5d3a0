"""sdk.discovery: the API host and headers learnt from an identity call (Sophos Central whoami)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.discovery import DiscoveringApiClient, Target, origin
from aria_connectors.sdk.http import ApiClient, Authenticator, RetryPolicy
from aria_connectors.sdk import RuntimeOptions
from aria_connectors.sdk.manifest import BearerAuth, RateLimits


def client(http: httpx.AsyncClient, discover, allowed: str | None = None) -> DiscoveringApiClient:
    retry = RetryPolicy.build(RateLimits(), RuntimeOptions())
    auth = Authenticator(BearerAuth(type="bearer", token="t0k"), {}, "https://global.example", http, retry)
    api = ApiClient(base_url="https://global.example", auth=auth, http=http, retry=retry, limits=RateLimits(),
                    default_headers={"X-Home": "1"}, timeout=5)
    return DiscoveringApiClient.around(api, discover, allowed)


async def test_requests_go_to_the_discovered_host_with_its_headers():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/whoami/v1":
            return httpx.Response(200, json={"id": "t-1", "idType": "tenant",
                                             "apiHosts": {"dataRegion": "https://api-eu02.example"}})
        return httpx.Response(200, json={"items": []})

    calls = 0

    async def discover(api: DiscoveringApiClient) -> Target:
        nonlocal calls
        calls += 1
        me = await api.home_json("GET", "/whoami/v1")
        return Target(me["apiHosts"]["dataRegion"], {"X-Tenant-ID": me["id"]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        api = client(http, discover, allowed=r"https://api-[a-z0-9]+\.example")
        await asyncio.gather(api.request("GET", "/a"), api.request("GET", "/b"))  # one discovery for both
        assert calls == 1
        whoami, *data = seen
        assert str(whoami.url) == "https://global.example/whoami/v1" and "x-tenant-id" not in whoami.headers
        assert whoami.headers["authorization"] == "Bearer t0k"
        assert {str(r.url) for r in data} == {"https://api-eu02.example/a", "https://api-eu02.example/b"}
        assert all(r.headers["x-tenant-id"] == "t-1" and r.headers["x-home"] == "1" for r in data)
        api.forget()
        assert api.base_url == "https://global.example" and "X-Tenant-ID" not in api.default_headers
        await api.request("GET", "/c")
        assert calls == 2


async def test_a_host_outside_the_vendors_is_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    async def discover(api: DiscoveringApiClient) -> Target:
        return Target("https://attacker.example.net", {})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        api = client(http, discover, allowed=r"https://api-[a-z0-9]+\.example")
        with pytest.raises(PermanentError):
            await api.request("GET", "/a")
        assert api.target is None


async def test_the_home_origin_is_always_allowed():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"ok": True})

    async def discover(api: DiscoveringApiClient) -> Target:
        return Target("https://global.example:443/", {"X-Tenant-ID": "x"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        api = client(http, discover)
        resp = await api.request("GET", "/a")
        assert str(resp.request.url) == "https://global.example/a"
    assert origin("https://Global.example:443/x") == "https://global.example"
    assert origin("http://127.0.0.1:8123/x") == "http://127.0.0.1:8123"
