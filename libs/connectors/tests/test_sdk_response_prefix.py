"""sdk ``api.response_prefix``: JSON written after a status line (Trellix ePO's ``OK:``)."""

from __future__ import annotations

import httpx
import pytest

from aria_connectors.errors import PermanentError
from aria_connectors.sdk import RuntimeOptions
from aria_connectors.sdk.http import ApiClient, Authenticator, RetryPolicy, decode_json
from aria_connectors.sdk.manifest import NoAuth, RateLimits


def answer(text: str) -> httpx.Response:
    return httpx.Response(200, content=text.encode(), headers={"Content-Type": "text/plain"})


def test_prefix_is_stripped_and_a_missing_one_is_the_vendors_error():
    assert decode_json(answer('OK:\r\n[ { "EPOEvents.AutoID" : 1 } ]'), "q", "OK:") == [{"EPOEvents.AutoID": 1}]
    assert decode_json(answer("OK:\n{}"), "q", "OK:") == {}
    with pytest.raises(PermanentError, match="Error 0 : Command was not found: ERROR"):
        decode_json(answer("Error 0 :\nCommand was not found: ERROR\n"), "q", "OK:")
    with pytest.raises(PermanentError):  # without a declared prefix the text is not JSON
        decode_json(answer('OK:\r\n[]'), "q")


async def test_api_client_decodes_with_its_prefix():
    def handler(request: httpx.Request) -> httpx.Response:
        return answer('OK:\r\n[ { "a" : "\\u002f" } ]')

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        retry = RetryPolicy.build(RateLimits(), RuntimeOptions())
        api = ApiClient(base_url="https://epo.example:8443/remote", http=http, retry=retry, limits=RateLimits(),
                        auth=Authenticator(NoAuth(type="none"), {}, "https://epo.example", http, retry),
                        default_headers={}, timeout=5, response_prefix="OK:")
        assert await api.request_json("GET", "/core.help") == [{"a": "/"}]
