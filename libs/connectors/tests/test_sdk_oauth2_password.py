"""sdk auth ``oauth2_password``: the resource owner password grant (ESET Connect)."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx
import pytest

from aria_connectors.errors import AuthenticationError
from aria_connectors.sdk import RuntimeOptions
from aria_connectors.sdk.http import Authenticator, RetryPolicy
from aria_connectors.sdk.manifest import OAuth2ClientCredentials, OAuth2Password, RateLimits


def authenticator(http: httpx.AsyncClient, **extra) -> Authenticator:
    spec = OAuth2Password(type="oauth2_password", token_url="https://iam.example/oauth/token",
                          username="{settings.username}", password="{secrets.password}", **extra)
    ctx = {"settings": {"username": "api@example.com", "client_id": "cid"}, "secrets": {"password": "s3cret"}}
    return Authenticator(spec, ctx, "https://api.example", http, RetryPolicy.build(RateLimits(), RuntimeOptions()))


async def test_password_grant_without_a_client():
    forms = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        assert "authorization" not in request.headers
        return httpx.Response(200, json={"access_token": "tok", "expires_in": 3600, "token_type": "Bearer",
                                         "refresh_token": "r"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = authenticator(http)
        assert isinstance(auth.spec, OAuth2ClientCredentials)  # cached, refreshed and re-fetched on 401 alike
        assert await auth.headers() == {"Authorization": "Bearer tok"}
        assert await auth.headers() == {"Authorization": "Bearer tok"}
    assert forms == [{"grant_type": ["password"], "username": ["api@example.com"], "password": ["s3cret"]}]


async def test_password_grant_with_a_client_and_a_refusal():
    def handler(request: httpx.Request) -> httpx.Response:
        form = parse_qs(request.content.decode())
        assert form["client_id"] == ["cid"] and form["grant_type"] == ["password"]
        return httpx.Response(400, json={"error": "invalid_grant"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        with pytest.raises(AuthenticationError):
            await authenticator(http, client_id="{settings.client_id}", client_secret="x").headers()
