"""sdk ``parents:`` streams (``sdk.fanout``): children read per parent (Veracode findings per
application, Checkmarx One results per scan), resumable mid-parent, the cursor moved at the end;
and the ``oauth2_refresh_token`` grant (Checkmarx One API keys)."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aria_connectors.errors import ManifestError
from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.http import Authenticator, RetryPolicy
from aria_connectors.sdk.manifest import OAuth2RefreshToken, RateLimits, validate_manifest_dict
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connector_testkit.testing import SimulatorServer


class Vendor:
    """Scans (parents, ``updated`` cursor, listed unordered with offset paging) and results per scan
    (``/scans/{id}/results`` page-numbered)."""

    def __init__(self) -> None:
        self.scans: list[dict] = []
        self.results: dict[str, list[dict]] = {}
        self.requests: list[str] = []

    def add_scan(self, sid: str, updated: str, n: int, project: str = "p1") -> None:
        self.scans.append({"id": sid, "updated": updated, "projectId": project})
        self.results[sid] = [{"rid": f"{sid}-r{i}", "severity": "HIGH"} for i in range(n)]

    def app(self) -> Starlette:
        async def scans(request: Request) -> JSONResponse:
            q = request.query_params
            self.requests.append(f"scans {q.get('from', '')} {q['offset']}")
            rows = [s for s in self.scans if s["updated"] >= q.get("from", "")]
            rows = sorted(rows, key=lambda s: s["id"], reverse=True)  # not the cursor's order
            off, lim = int(q["offset"]), int(q["limit"])
            return JSONResponse({"total": len(rows), "scans": rows[off:off + lim]})

        async def results(request: Request) -> JSONResponse:
            sid, q = request.path_params["sid"], request.query_params
            self.requests.append(f"results {sid} {q['page']}")
            rows, page, size = self.results[sid], int(q["page"]), int(q["size"])
            return JSONResponse({"items": rows[(page - 1) * size:page * size]})

        return Starlette(routes=[Route("/scans", scans), Route("/scans/{sid}/results", results)])


def plugin() -> ConnectorPlugin:
    return ConnectorPlugin(manifest=validate_manifest_dict({
        "key": "fanout_test", "name": "Fan-out test", "vendor": "Test", "product": "Test", "category": "custom",
        "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
        "capabilities": ["sync", "incremental"], "data_types": ["vulnerability"], "auth_methods": ["none"],
        "config_schema": {"type": "object", "properties": {"base_url": {"type": "string"}}},
        "api": {"base_url": "{settings.base_url}", "auth": {"type": "none"},
                "connection_test": {"path": "/scans", "params": {"offset": 0, "limit": 1}},
                "streams": [{
                    "name": "results",
                    "parents": {"request": {"path": "/scans"}, "record_selector": "scans", "id_field": "id",
                                "pagination": {"type": "offset", "page_size": 2, "total_path": "total"}},
                    "request": {"path": "/scans/{parent.id}/results"},
                    "record_selector": "items",
                    "pagination": {"type": "page_number", "limit_param": "size", "page_size": 2},
                    "incremental": {"cursor_field": "updated", "filter_param": "from", "filter_template": "{cursor}"},
                    "mapping": {"entity": "vulnerability", "external_id": [["_parent.projectId", "rid"]],
                                "fields": {"title": "rid", "severity": {"path": "severity", "lower": True},
                                           "status": {"const": "open"}},
                                "attributes": {"scan_id": "_parent.id"}}}]},
    }))


def create(url: str):
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "fanout_test")
    http = httpx.AsyncClient()
    return plugin().create(ctx, {"base_url": url}, {}, http, options=RuntimeOptions(page_size=2)), http


async def run(url: str, checkpoint=None, limit=None):
    inst, http = create(url)
    out = []
    async with http:
        async for batch in inst.sync(checkpoint, None):
            out.append(batch)
            if limit is not None and len(out) >= limit:
                break
    return out


def ids(batches) -> list[str]:
    return [e.provenance.external_id for b in batches for e in b.events]


async def test_children_per_parent_oldest_parent_first_and_cursor_at_the_end():
    v = Vendor()
    v.add_scan("s1", "2024-05-01T10:00:00Z", 3)
    v.add_scan("s2", "2024-05-01T09:00:00Z", 1)
    v.add_scan("s3", "2024-05-01T11:00:00Z", 0)
    with SimulatorServer(v.app()) as server:
        batches = await run(server.url)
        assert ids(batches) == ["p1:s2-r0", "p1:s1-r0", "p1:s1-r1", "p1:s1-r2"]
        event = batches[0].events[0]
        assert event.attributes["scan_id"] == "s2" and event.provenance.raw_sha256  # parent attached for mapping
        assert event.provenance.cursor_to == "2024-05-01T09:00:00Z"
        # mid-session checkpoints keep the anchor; the last one holds the newest parent
        assert batches[0].checkpoint["streams"]["results"]["cursor"] is None
        assert batches[0].checkpoint["streams"]["results"]["pending"]["parent"] == "s2"
        final = batches[-1].checkpoint["streams"]["results"]
        assert final == {"cursor": "2024-05-01T11:00:00Z", "seen": ["s3"]}
        assert "results s1 1" in v.requests and "results s1 2" in v.requests
        # nothing new: nothing published, and the children of old parents are not read again
        v.requests.clear()
        assert ids(await run(server.url, batches[-1].checkpoint)) == []
        assert v.requests == ["scans 2024-05-01T11:00:00Z 0"]
        # a parent changed (a newer cursor) is read whole again; a new one too
        v.scans[1]["updated"] = "2024-05-01T12:00:00Z"
        v.add_scan("s4", "2024-05-01T11:00:00Z", 1)
        assert ids(await run(server.url, batches[-1].checkpoint)) == ["p1:s4-r0", "p1:s2-r0"]


@pytest.mark.parametrize("stop_after", [1, 2, 3, 4])
async def test_resume_from_any_batch_neither_repeats_nor_skips(stop_after):
    v = Vendor()
    v.add_scan("s1", "2024-05-01T10:00:00Z", 3)
    v.add_scan("s2", "2024-05-01T10:00:00Z", 2)
    v.add_scan("s3", "2024-05-01T08:00:00Z", 1)
    with SimulatorServer(v.app()) as server:
        full = ids(await run(server.url))
        first = await run(server.url, limit=stop_after)
        rest = await run(server.url, first[-1].checkpoint)
        assert ids(first) + ids(rest) == full
        assert len(full) == len(set(full)) == 6
        assert rest[-1].checkpoint["streams"]["results"] == {"cursor": "2024-05-01T10:00:00Z", "seen": ["s1", "s2"]}


async def test_preview_counts_child_pages_and_query_reads_children():
    v = Vendor()
    for i in range(3):
        v.add_scan(f"s{i}", f"2024-05-01T1{i}:00:00Z", 2)
    with SimulatorServer(v.app()) as server:
        inst, http = create(server.url)
        async with http:
            preview = await inst.preview(max_pages=2)
            # a full page asks for the next one: two child pages of the first scan
            assert preview.pages["results"] == 2 and preview.counts["vulnerability"] == 2
            assert len((await inst.query("results", limit=100)).events) == 6


def test_fan_out_refuses_keyset_paging():
    manifest = plugin().manifest.model_dump(mode="json", by_alias=True, exclude_none=True)
    stream = manifest["api"]["streams"][0]
    stream["pagination"] = {"type": "keyset", "ascending_sort": "a", "descending_sort": "d",
                            "below_upper_template": "<{upper}", "upper_bound_template": "<={upper}", "total_path": "t"}
    with pytest.raises(ManifestError):
        validate_manifest_dict(manifest)


async def test_refresh_token_grant_as_a_public_client():
    forms = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == "https://iam.example/auth/realms/acme/protocol/openid-connect/token"
        assert "authorization" not in request.headers
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": "tok", "expires_in": 1800, "token_type": "Bearer"})

    spec = OAuth2RefreshToken(type="oauth2_refresh_token", token_url="{settings.iam}/auth/realms/{settings.tenant}"
                              "/protocol/openid-connect/token", client_id="ast-app", refresh_token="{secrets.api_key}")
    ctx = {"settings": {"iam": "https://iam.example", "tenant": "acme"}, "secrets": {"api_key": "eyJ.key"}}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        auth = Authenticator(spec, ctx, "https://api.example", http, RetryPolicy.build(RateLimits(), RuntimeOptions()))
        assert await auth.headers() == {"Authorization": "Bearer tok"}
        assert await auth.headers() == {"Authorization": "Bearer tok"}  # cached
    assert forms == [{"grant_type": ["refresh_token"], "refresh_token": ["eyJ.key"], "client_id": ["ast-app"]}]
