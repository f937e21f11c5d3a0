"""Small SDK options EDR vendors need: ``fetch`` on a push action (fetch before write: Trend Vision
One's ``PATCH /v3.0/workbench/alerts/{id}`` wants ``If-Match`` with the ETag a ``GET`` of the alert
answers), a JSON array as a request body (Trend's response actions take a list of targets), and a
stream request's own headers sent with every page (Trend's ``TMV1-Query`` filter header)."""

from __future__ import annotations

import json
import uuid

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connectors.sdk import InstallationContext
from aria_connectors.sdk.manifest import validate_manifest_dict
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connectors.sdk.types import PushRequest
from aria_connector_testkit.testing import SimulatorServer


def vendor_app(seen: list[tuple[str, str, dict, object]]) -> Starlette:
    etag = {"value": '"v1"'}

    async def get_item(request: Request) -> Response:
        seen.append(("GET", request.url.path, dict(request.headers), None))
        return JSONResponse({"id": request.path_params["id"], "status": "Open"}, headers={"ETag": etag["value"]})

    async def patch_item(request: Request) -> Response:
        body = json.loads(await request.body())
        seen.append(("PATCH", request.url.path, dict(request.headers), body))
        if request.headers.get("if-match") != etag["value"]:
            return JSONResponse({"error": {"code": "PreconditionFailed"}}, status_code=412)
        etag["value"] = '"v2"'
        return Response(status_code=204)

    async def act(request: Request) -> Response:
        body = json.loads(await request.body())
        seen.append(("POST", request.url.path, dict(request.headers), body))
        return JSONResponse([{"status": 202}] * len(body), status_code=207)

    return Starlette(routes=[Route("/items/{id}", get_item, methods=["GET"]),
                             Route("/items/{id}", patch_item, methods=["PATCH"]),
                             Route("/act", act, methods=["POST"])])


def plugin() -> ConnectorPlugin:
    return ConnectorPlugin(manifest=validate_manifest_dict({
        "key": "fetch_test", "name": "Fetch test", "vendor": "Test", "product": "Test", "category": "custom",
        "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
        "capabilities": ["push_actions"], "data_types": ["risk"], "auth_methods": ["none"],
        "config_schema": {"type": "object", "properties": {"base_url": {"type": "string"}}},
        "api": {"base_url": "{settings.base_url}", "auth": {"type": "none"},
                "connection_test": {"path": "/items/1"}},
        "push": [
            {"name": "set_status", "kind": "update_ticket", "input": "ticket",
             "fetch": {"method": "GET", "path": "/items/{vendor_id}"},
             "request": {"method": "PATCH", "path": "/items/{vendor_id}",
                         "headers": {"If-Match": "{fetched.headers.etag}"},
                         "json": {"status": "{changes.status}", "was": "{fetched.body.status}"}},
             "idempotency": {"strategy": "natural"}},
            {"name": "act", "kind": "update_ticket", "input": "ticket",
             "request": {"method": "POST", "path": "/act",
                         "json": [{"target": "{vendor_id}", "note": "{changes.description}"}]},
             "idempotency": {"strategy": "natural"}},
        ],
    }))


async def test_fetch_before_write_feeds_the_etag_to_if_match():
    seen: list = []
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "fetch_test")
    with SimulatorServer(vendor_app(seen)) as server:
        async with httpx.AsyncClient() as http:
            inst = plugin().create(ctx, {"base_url": server.url}, {}, http)
            result = await inst.push("set_status", PushRequest(vendor_id="WB-1", changes={"status": "Closed"}))
            again = await inst.push("set_status", PushRequest(vendor_id="WB-1", changes={"status": "Open"}))
    assert result.vendor_id == "WB-1" and result.details["http_status"] == 204
    assert again.details["http_status"] == 204  # a fresh fetch each time: the new ETag
    assert [(m, p) for m, p, _, _ in seen] == [("GET", "/items/WB-1"), ("PATCH", "/items/WB-1")] * 2
    assert seen[1][2]["if-match"] == '"v1"' and seen[3][2]["if-match"] == '"v2"'
    assert seen[1][3] == {"status": "Closed", "was": "Open"}


async def test_a_json_array_body_is_rendered_and_pruned():
    seen: list = []
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "fetch_test")
    with SimulatorServer(vendor_app(seen)) as server:
        async with httpx.AsyncClient() as http:
            inst = plugin().create(ctx, {"base_url": server.url}, {}, http)
            result = await inst.push("act", PushRequest(vendor_id="agent-7", changes={}))
    assert result.details["http_status"] == 207
    assert seen == [("POST", "/act", seen[0][2], [{"target": "agent-7"}])]  # the null note left out


# -- a stream request's own headers ----------------------------------------------------------------

ITEMS = [{"id": f"e{i}"} for i in range(5)]


def listing_app(seen: list[dict]) -> Starlette:
    """``GET /endpoints`` answering two items a page and ``nextLink`` (Trend's shape); refuses a
    request without the ``TMV1-Query`` header, which Trend wants in every paginated request."""
    async def endpoints(request: Request) -> Response:
        seen.append({"query": dict(request.query_params), "header": request.headers.get("tmv1-query")})
        if not request.headers.get("tmv1-query"):
            return JSONResponse({"error": {"code": "BadRequest"}}, status_code=400)
        start = int(request.query_params.get("skipToken", 0))
        body: dict = {"items": ITEMS[start:start + 2]}
        if start + 2 < len(ITEMS):
            body["nextLink"] = str(request.url.replace(query=f"skipToken={start + 2}"))
        return JSONResponse(body)

    return Starlette(routes=[Route("/endpoints", endpoints)])


async def test_stream_request_headers_go_with_every_page():
    manifest = validate_manifest_dict({
        "key": "header_test", "name": "Header test", "vendor": "Test", "product": "Test", "category": "custom",
        "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
        "capabilities": ["sync"], "data_types": ["asset"], "auth_methods": ["none"],
        "config_schema": {"type": "object", "properties": {"base_url": {"type": "string"}, "query": {"type": "string"}}},
        "api": {"base_url": "{settings.base_url}", "auth": {"type": "none"},
                "connection_test": {"path": "/endpoints", "headers": {"TMV1-Query": "{settings.query}"}},
                "streams": [{"name": "endpoints",
                             "request": {"path": "/endpoints", "headers": {"TMV1-Query": "{settings.query}"}},
                             "record_selector": "items",
                             "pagination": {"type": "next_url", "next_url_path": "nextLink"},
                             "mapping": {"entity": "asset", "external_id": "id",
                                         "fields": {"name": "id", "asset_type": {"const": "host"}}}}]},
    })
    seen: list[dict] = []
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "header_test")
    with SimulatorServer(listing_app(seen)) as server:
        async with httpx.AsyncClient() as http:
            inst = ConnectorPlugin(manifest=manifest).create(
                ctx, {"base_url": server.url, "query": "not (endpointName eq 'x')"}, {}, http)
            assert (await inst.test_connection()).ok
            ids = [e.provenance.external_id for b in [b async for b in inst.sync()] for e in b.events]
    assert ids == [r["id"] for r in ITEMS]
    assert [s["header"] for s in seen] == ["not (endpointName eq 'x')"] * 4
    assert [s["query"] for s in seen[1:]] == [{}, {"skipToken": "2"}, {"skipToken": "4"}]
