"""Sentinel's Logs query hooks (``page_request`` / ``page_body``): the request goes through the
instance's own API client, so the manifest's error rules apply. The hand-built client they replaced
copied the client without them, and a partial result (200 with an error object) was published as a
full page."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.errors import ConnectorError
from aria_connectors.sdk import InstallationContext, RuntimeOptions

SENTINEL = registry.get("microsoft_sentinel")
CONFIG = {"tenant_id": "6b5c2f1e-0c7d-4f0a-9a51-3f1d2c4b5a69", "client_id": "c", "client_secret": "s",
          "subscription_id": "11111111-2222-3333-4444-555555555555", "resource_group": "rg",
          "workspace_name": "law-1", "arm_url": "https://arm.test", "login_url": "https://login.test"}
ROW = {"SystemAlertId": "a-1", "TimeGenerated": "2024-05-01T00:00:00Z", "AlertName": "x", "AlertSeverity": "Low",
       "Status": "New", "StartTime": "2024-05-01T00:00:00Z", "Tactics": "Execution"}


def answer(partial: bool):
    queries: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/oauth2/v2.0/token"):
            return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3599, "access_token": "t"})
        queries.append(json.loads(request.content)["query"])
        body = {"tables": [{"name": "PrimaryResult", "columns": [{"name": k, "type": "string"} for k in ROW],
                            "rows": [list(ROW.values())]}]}
        if partial:
            body["error"] = {"code": "PartialError", "message": "There were some errors when processing your query."}
        return httpx.Response(200, json=body)
    return handle, queries


async def read(partial: bool) -> tuple[list, list[str]]:
    handle, queries = answer(partial)
    settings, secrets = SENTINEL.split_config(CONFIG)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as http:
        inst = SENTINEL.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), SENTINEL.key), settings, secrets, http,
                               options=RuntimeOptions(max_retries=1, backoff_base_seconds=0.01, backoff_max_seconds=0.01))
        events = [e async for b in inst.sync(None, None, streams=["security_alerts"]) for e in b.events]
    return events, queries


async def test_paging_is_folded_into_the_query():
    events, queries = await read(partial=False)
    assert [e.provenance.external_id for e in events] == ["a-1"]
    assert queries[0].startswith("SecurityAlert | summarize arg_max(TimeGenerated, *) by SystemAlertId")
    assert "| sort by TimeGenerated asc, SystemAlertId asc" in queries[0] and "| take " in queries[0]


async def test_a_partial_result_is_not_published():
    with pytest.raises(ConnectorError) as raised:
        await read(partial=True)
    assert raised.value.error_class == "transient"
