"""Two small SDK components EDR vendors need: ``body_offset`` pagination (the offset window in the
JSON body of a search request: Cortex XDR ``search_from``/``search_to``, Carbon Black Cloud
``start``/``rows``) and ``api_key_id`` auth (a key and its key id in two headers; Cortex XDR
"advanced" keys send a per-request nonce hash instead of the key)."""

from __future__ import annotations

import hashlib
import json
import uuid

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.keyhash import api_key_id_headers, nonce_digest
from aria_connectors.sdk.manifest import ApiKeyIdAuth, ManifestError, validate_manifest_dict
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connector_testkit.testing import SimulatorServer

ROWS = [{"id": f"a{i:02d}", "title": f"Alert {i}", "ts": 1000 + i} for i in range(7)]


def search_app(seen: list[dict]) -> Starlette:
    """``POST /search`` with ``{"request_data": {"search_from", "search_to"}}`` (XDR) or ``{"start",
    "rows"}`` counted from 1 (Carbon Black); answers the window and the total."""
    async def search(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        seen.append(body)
        if "search_from" in body["request_data"]:
            start, end = body["request_data"]["search_from"], body["request_data"]["search_to"]
        else:
            start, end = body["start"] - 1, body["start"] - 1 + body["rows"]
        return JSONResponse({"reply": {"total_count": len(ROWS), "results": ROWS[start:end]}})

    return Starlette(routes=[Route("/search", search, methods=["POST"])])


def plugin(pagination: dict, auth: dict | None = None) -> ConnectorPlugin:
    return ConnectorPlugin(manifest=validate_manifest_dict({
        "key": "body_test", "name": "Body test", "vendor": "Test", "product": "Test", "category": "custom",
        "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
        "capabilities": ["sync"], "data_types": ["risk"], "auth_methods": ["none"],
        "config_schema": {"type": "object", "properties": {"base_url": {"type": "string"}}},
        "api": {"base_url": "{settings.base_url}", "auth": auth or {"type": "none"},
                "connection_test": {"method": "POST", "path": "/search", "json": {}},
                "streams": [{"name": "alerts", "request": {"method": "POST", "path": "/search",
                                                           "json": {"request_data": {"sort": "asc"}}},
                             "record_selector": "reply.results", "pagination": pagination,
                             "mapping": {"entity": "risk", "external_id": "id",
                                         "fields": {"title": "title", "severity": {"const": "low"},
                                                    "status": {"const": "open"}}}}]},
    }))


async def sync_ids(url: str, pagination: dict, page_size: int = 3) -> list[str]:
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "body_test")
    async with httpx.AsyncClient() as http:
        inst = plugin(pagination).create(ctx, {"base_url": url}, {}, http, options=RuntimeOptions(page_size=page_size))
        return [e.provenance.external_id for b in [b async for b in inst.sync()] for e in b.events]


async def test_body_offset_with_an_exclusive_end_field():
    seen: list[dict] = []
    with SimulatorServer(search_app(seen)) as server:
        ids = await sync_ids(server.url, {"type": "body_offset", "offset_field": "request_data.search_from",
                                          "end_field": "request_data.search_to", "total_path": "reply.total_count"})
    assert ids == [r["id"] for r in ROWS]
    assert [(b["request_data"]["search_from"], b["request_data"]["search_to"]) for b in seen] == [(0, 3), (3, 6), (6, 9)]
    assert all(b["request_data"]["sort"] == "asc" for b in seen)  # the request's own body is kept


async def test_body_offset_with_a_row_count_from_one():
    seen: list[dict] = []
    with SimulatorServer(search_app(seen)) as server:
        ids = await sync_ids(server.url, {"type": "body_offset", "offset_field": "start", "limit_field": "rows",
                                          "first_index": 1})  # no total: a short page ends it
    assert ids == [r["id"] for r in ROWS]
    assert [(b["start"], b["rows"]) for b in seen] == [(1, 3), (4, 3), (7, 3)]


def test_body_offset_needs_exactly_one_size_field():
    with pytest.raises(ManifestError, match="exactly one of limit_field and end_field"):
        plugin({"type": "body_offset", "offset_field": "start"})


def test_api_key_id_standard_sends_the_key_and_its_id():
    spec = ApiKeyIdAuth(type="api_key_id", value="{k}", key_id_header="x-xdr-auth-id", key_id="{i}")
    values = {"{k}": "the-key", "{i}": "42"}
    assert api_key_id_headers(spec, values.__getitem__) == {"Authorization": "the-key", "x-xdr-auth-id": "42"}


def test_api_key_id_advanced_sends_a_fresh_nonce_hash_never_the_key():
    spec = ApiKeyIdAuth.model_validate({
        "type": "api_key_id", "value": "{k}", "key_id_header": "x-xdr-auth-id", "key_id": "{i}",
        "nonce_hash": {"nonce_header": "x-xdr-nonce", "timestamp_header": "x-xdr-timestamp"}})
    values = {"{k}": "the-key", "{i}": "42"}
    first = api_key_id_headers(spec, values.__getitem__, clock=lambda: 1700000000.123)
    second = api_key_id_headers(spec, values.__getitem__, clock=lambda: 1700000000.123)
    assert first["x-xdr-timestamp"] == "1700000000123" and first["x-xdr-auth-id"] == "42"
    assert len(first["x-xdr-nonce"]) == 64 and first["x-xdr-nonce"].isalnum()
    assert first["x-xdr-nonce"] != second["x-xdr-nonce"]
    want = hashlib.sha256(("the-key" + first["x-xdr-nonce"] + "1700000000123").encode()).hexdigest()
    assert first["Authorization"] == want == nonce_digest("the-key", first["x-xdr-nonce"], "1700000000123")
    assert "the-key" not in json.dumps(first)
