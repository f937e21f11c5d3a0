"""sdk auth ``session_login``: a login call opens a session whose token travels in a header
(Kaspersky Security Center's Session.StartSession and X-KSC-Session)."""

from __future__ import annotations

import base64

import httpx
import pytest

from aria_connectors.errors import AuthenticationError, ConfigurationError
from aria_connectors.sdk import RuntimeOptions
from aria_connectors.sdk.http import ApiClient, Authenticator, RetryPolicy
from aria_connectors.sdk.manifest import RateLimits, SessionLoginAuth

KSC = {"type": "session_login", "path": "/api/v1.0/Session.StartSession",
       "headers": {"Authorization": 'KSCBasic user="{base64.settings.username}", pass="{base64.secrets.password}", '
                                    'internal="1"'},
       "token_path": "PxgRetVal", "header": "X-KSC-Session"}
CTX = {"settings": {"username": "api-user"}, "secrets": {"password": "pa ss"}}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def client(http: httpx.AsyncClient, spec: dict, ctx: dict = CTX) -> ApiClient:
    retry = RetryPolicy.build(RateLimits(max_retries=0), RuntimeOptions())
    auth = Authenticator(SessionLoginAuth.model_validate(spec), ctx, "https://ksc.example:13299", http, retry)
    return ApiClient(base_url="https://ksc.example:13299", auth=auth, http=http, retry=retry, limits=RateLimits(),
                     default_headers={}, timeout=5)


async def test_login_once_then_the_session_header_and_a_new_session_on_401():
    sessions, seen = [], []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("Session.StartSession"):
            assert request.method == "POST" and request.content == b"{}"
            assert request.headers["authorization"] == \
                f'KSCBasic user="{b64("api-user")}", pass="{b64("pa ss")}", internal="1"'
            sessions.append(f"nsPb{len(sessions)}==")
            return httpx.Response(200, json={"PxgRetVal": sessions[-1]})
        seen.append(request.headers.get("x-ksc-session"))
        if len(seen) == 2:  # the server ended the idle session
            return httpx.Response(401, text="Unauthorized")
        return httpx.Response(200, json={"PxgRetVal": 1})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        api = client(http, KSC)
        assert (await api.request_json("POST", "/api/v1.0/HostGroup.FindHosts", json={})) == {"PxgRetVal": 1}
        await api.request_json("POST", "/api/v1.0/HostGroup.FindHosts", json={})
        assert api.auth.token_fetches == 2 and api.auth.token_expires_at is None
        api.auth.invalidate()
        await api.request_json("POST", "/api/v1.0/HostGroup.FindHosts", json={})
    assert seen == ["nsPb0==", "nsPb0==", "nsPb1==", "nsPb2=="]


async def test_refused_login_token_in_a_header_and_missing_values():
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, text="Unauthorized")

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        with pytest.raises(AuthenticationError):
            await client(http, KSC).auth.headers()
        with pytest.raises(ConfigurationError):
            await client(http, KSC, {"settings": {}, "secrets": {"password": "x"}}).auth.headers()

    def header_token(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"X-Session": "abc"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(header_token)) as http:
        spec = {**KSC, "token_path": None, "token_header": "X-Session", "prefix": "S "}
        assert await client(http, spec).auth.headers() == {"X-KSC-Session": "S abc"}
    with pytest.raises(ValueError):
        SessionLoginAuth.model_validate({**KSC, "token_path": None})
