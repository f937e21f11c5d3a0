"""``sdk.resumable.BodyOffsetSessionReader``: a POST search paged by a body offset whose answer is not
ordered by the cursor (Symantec Endpoint Security's incident search) is read as one session: the filter
stays on the anchor, values pinned by ``session_body`` travel with every page and a resumed run, the
vendor's ``next_offset_path`` (absent on the last page) moves the offset, and only a finished search
moves the cursor."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aria_connectors.sdk import InstallationContext, RuntimeOptions
from aria_connectors.sdk.manifest import validate_manifest_dict
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connectors.sdk.resumable import BodyOffsetSessionReader
from aria_connectors.sdk.sessions import SessionConnector
from aria_connector_testkit.testing import SimulatorServer

# newest first, as the vendor answers: the cursor goes down page after page
ROWS = [{"uid": f"i{i:02d}", "title": f"Incident {i}", "modified": f"2024-05-01T10:{59 - i:02d}:00+00:00"}
        for i in range(7)]


def search_app(seen: list[dict]) -> Starlette:
    async def search(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        seen.append(body)
        rows = [r for r in ROWS if not body.get("start_date") or r["modified"] >= body["start_date"]]
        start, limit = body["next"], body["limit"]
        answer: dict[str, Any] = {"total": len(rows), "incidents": rows[start:start + limit]}
        if start + limit < len(rows):
            answer["next"] = start + limit
        return JSONResponse(answer)

    return Starlette(routes=[Route("/incidents", search, methods=["POST"])])


class Pinned(BodyOffsetSessionReader):
    def session_body(self, body: Any) -> dict[str, Any]:
        return {"end_date": "2024-05-02T00:00:00+00:00"}


class Conn(SessionConnector):
    reader_classes = {"incidents": Pinned}


PLUGIN = ConnectorPlugin(manifest=validate_manifest_dict({
    "key": "session_test", "name": "Session test", "vendor": "Test", "product": "Test", "category": "custom",
    "description": "test", "version": "1.0.0", "documentation_url": "https://example.com", "pricing_model": "free",
    "capabilities": ["sync", "incremental"], "data_types": ["risk"], "auth_methods": ["none"],
    "config_schema": {"type": "object", "properties": {"base_url": {"type": "string"}}},
    "api": {"base_url": "{settings.base_url}", "auth": {"type": "none"},
            "connection_test": {"method": "POST", "path": "/incidents", "json": {}},
            "streams": [{"name": "incidents", "request": {"method": "POST", "path": "/incidents",
                                                          "json": {"include_events": True}},
                         "record_selector": "incidents",
                         "pagination": {"type": "body_offset", "offset_field": "next", "limit_field": "limit",
                                        "total_path": "total", "next_offset_path": "next"},
                         "incremental": {"cursor_field": "modified", "tie_breaker_field": "uid", "filter_in_body": True,
                                         "filter_param": "start_date", "filter_template": "{cursor}"},
                         "mapping": {"entity": "risk", "external_id": "uid",
                                     "fields": {"title": "title", "severity": {"const": "low"},
                                                "status": {"const": "open"}}}}]},
}), instance_class=Conn)


async def read(url: str, checkpoint: dict | None, *, batches: int | None = None) -> tuple[list[str], list[dict]]:
    ctx = InstallationContext(uuid.uuid4(), uuid.uuid4(), "session_test")
    ids, checkpoints = [], []
    async with httpx.AsyncClient() as http:
        inst = PLUGIN.create(ctx, {"base_url": url}, {}, http, options=RuntimeOptions(page_size=3))
        async for batch in inst.sync(checkpoint):
            ids += [e.provenance.external_id for e in batch.events]
            checkpoints.append(batch.checkpoint)
            if batches is not None and len(checkpoints) >= batches:
                break
    return ids, checkpoints


async def test_a_search_not_ordered_by_the_cursor_is_read_whole_and_resumed():
    seen: list[dict] = []
    with SimulatorServer(search_app(seen)) as server:
        ids, checkpoints = await read(server.url, None)
        assert sorted(ids) == sorted(r["uid"] for r in ROWS)
        assert [(b["next"], b["limit"], b["end_date"]) for b in seen] == \
            [(0, 3, "2024-05-02T00:00:00+00:00"), (3, 3, "2024-05-02T00:00:00+00:00"), (6, 3, "2024-05-02T00:00:00+00:00")]
        assert all("start_date" not in b and b["include_events"] is True for b in seen)
        state = checkpoints[-1]["streams"]["incidents"]
        assert state["cursor"] == ROWS[0]["modified"] and "pending" not in state   # the newest, once finished

        # stopped after the first page: the checkpoint keeps the anchor, the next offset and the pinned body
        seen.clear()
        first, cps = await read(server.url, None, batches=1)
        pending = cps[-1]["streams"]["incidents"]
        assert pending["cursor"] is None and pending["pending"]["offset"] == 3
        assert pending["pending"]["body"] == {"end_date": "2024-05-02T00:00:00+00:00"}
        seen.clear()
        rest, cps = await read(server.url, cps[-1])
        assert sorted(first + rest) == sorted(r["uid"] for r in ROWS) and not set(first) & set(rest)
        assert [b["next"] for b in seen] == [3, 6]   # the same search, continued

        # a run from the finished checkpoint filters on it and publishes nothing again
        seen.clear()
        again, _ = await read(server.url, checkpoints[-1])
        assert again == [] and seen[0]["start_date"] == ROWS[0]["modified"]
