"""Pagination kinds beyond the conformance suite, over real HTTP against tiny vendors: OData-style
(each page names the next with a full ``@odata.nextLink`` URL), page numbers, and RFC 8288 Link
headers."""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aria_connectors.errors import PermanentError
from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.manifest import validate_manifest_dict
from aria_connectors.sdk.mapping import raw_sha256
from aria_connectors.sdk.paths import get_path, set_path
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connector_testkit.testing import SimulatorServer

ROWS = [{"id": f"a{i:02d}", "title": f"Alert {i}"} for i in range(7)]


def odata_app(next_origin: str | None = None) -> Starlette:
    async def alerts(request: Request) -> JSONResponse:
        skip, top = int(request.query_params.get("$skip", "0")), int(request.query_params["$top"])
        body: dict = {"@odata.context": "$metadata#Alerts", "value": ROWS[skip:skip + top]}
        if skip + top < len(ROWS):
            origin = next_origin or f"{request.url.scheme}://{request.url.netloc}"
            body["@odata.nextLink"] = f"{origin}/api/alerts?$top={top}&$skip={skip + top}"
        return JSONResponse(body)

    return Starlette(routes=[Route("/api/alerts", alerts)])


def paged_app(next_origin: str | None = None) -> Starlette:
    """``/api/alerts?page=N&per_page=M`` (pages from 1) with ``total_pages`` in the body and a
    ``Link: <...>; rel="next"`` header while more pages exist (GitHub / Freshdesk style)."""
    async def alerts(request: Request) -> JSONResponse:
        page, per_page = int(request.query_params.get("page", "1")), int(request.query_params["per_page"])
        start = (page - 1) * per_page
        headers = {}
        if start + per_page < len(ROWS):
            origin = next_origin or f"{request.url.scheme}://{request.url.netloc}"
            headers["Link"] = f'<{origin}/api/alerts?page={page + 1}&per_page={per_page}>; rel="next"'
        return JSONResponse({"value": ROWS[start:start + per_page], "total_pages": -(-len(ROWS) // per_page)},
                            headers=headers)

    return Starlette(routes=[Route("/api/alerts", alerts)])


def plugin(pagination: dict, instance_class: type[DeclarativeConnector] = DeclarativeConnector) -> ConnectorPlugin:
    return ConnectorPlugin(instance_class=instance_class, manifest=validate_manifest_dict({
        "key": "odata_test", "name": "OData test", "vendor": "Test", "product": "Test", "category": "custom",
        "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
        "capabilities": ["sync"], "data_types": ["risk"], "auth_methods": ["none"],
        "config_schema": {"type": "object", "properties": {"base_url": {"type": "string"}}},
        "api": {"base_url": "{settings.base_url}", "auth": {"type": "none"},
                "connection_test": {"path": "/api/alerts", "params": {"$top": 1}},
                "streams": [{"name": "alerts", "request": {"path": "/api/alerts"}, "record_selector": "value",
                             "pagination": pagination,
                             "mapping": {"entity": "risk", "external_id": "id",
                                         "fields": {"title": "title", "severity": {"const": "low"},
                                                    "status": {"const": "open"}}}}]},
    }))


async def sync_events(url: str, pagination: dict, page_size: int = 3,
                      instance_class: type[DeclarativeConnector] = DeclarativeConnector) -> tuple[list, int]:
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "odata_test")
    async with httpx.AsyncClient() as http:
        inst = plugin(pagination, instance_class).create(ctx, {"base_url": url}, {}, http,
                                                         options=RuntimeOptions(page_size=page_size))
        batches = [b async for b in inst.sync()]
    return [e for b in batches for e in b.events], len(batches)


async def sync_ids(url: str, pagination: dict, page_size: int = 3) -> tuple[list[str], int]:
    events, pages = await sync_events(url, pagination, page_size)
    return [e.provenance.external_id for e in events], pages


def test_paths_escape_dots_inside_keys():
    body = {"@odata.nextLink": "https://x/next", "@odata": {"nextLink": "nested"}}
    assert get_path(body, r"@odata\.nextLink") == "https://x/next"
    assert get_path(body, "@odata.nextLink") == "nested"
    assert set_path({}, r"a\.b.c", 1) == {"a.b": {"c": 1}}


async def test_next_url_pagination_follows_odata_next_link():
    with SimulatorServer(odata_app()) as server:
        ids, pages = await sync_ids(server.url, {"type": "next_url", "next_url_path": r"@odata\.nextLink",
                                                 "limit_param": "$top", "page_size": 100})
    assert ids == [r["id"] for r in ROWS] and pages == 3


async def test_next_url_leaving_the_api_origin_is_refused():
    """Credentials must not follow a vendor-supplied URL to another host."""
    with SimulatorServer(odata_app(next_origin="http://attacker.invalid")) as server:
        with pytest.raises(PermanentError, match="leaves the API origin"):
            await sync_ids(server.url, {"type": "next_url", "next_url_path": r"@odata\.nextLink",
                                        "limit_param": "$top"})


class Retitling(DeclarativeConnector):
    def transform_record(self, stream: str, record):
        return {**record, "title": record["title"].upper(), "added_by_hook": True}


async def test_raw_sha256_hashes_the_record_as_received_not_as_transformed():
    with SimulatorServer(odata_app()) as server:
        events, _ = await sync_events(server.url, {"type": "next_url", "next_url_path": r"@odata\.nextLink",
                                                   "limit_param": "$top"}, instance_class=Retitling)
    by_id = {r["id"]: r for r in ROWS}
    assert [e.title for e in events] == [r["title"].upper() for r in ROWS]  # the hook ran
    assert [e.provenance.raw_sha256 for e in events] == [raw_sha256(by_id[e.provenance.external_id]) for e in events]


@pytest.mark.parametrize("pagination", [{"type": "page_number"},
                                        {"type": "page_number", "total_pages_path": "total_pages"}])
async def test_page_number_pagination(pagination):
    with SimulatorServer(paged_app()) as server:
        ids, pages = await sync_ids(server.url, pagination, page_size=2)
    assert ids == [r["id"] for r in ROWS] and pages == 4


async def test_link_header_pagination_follows_rel_next():
    with SimulatorServer(paged_app()) as server:
        ids, pages = await sync_ids(server.url, {"type": "link_header"}, page_size=3)
    assert ids == [r["id"] for r in ROWS] and pages == 3


async def test_link_header_leaving_the_api_origin_is_refused():
    with SimulatorServer(paged_app(next_origin="http://attacker.invalid")) as server:
        with pytest.raises(PermanentError, match="leaves the API origin"):
            await sync_ids(server.url, {"type": "link_header"})
