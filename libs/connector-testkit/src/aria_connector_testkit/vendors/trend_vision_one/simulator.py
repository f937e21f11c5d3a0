"""Trend Vision One on top of its profile (``simulator.yaml``): what a profile cannot say
(https://automation.trendmicro.com/xdr/api-v3):

* ``GET /v3.0/workbench/alerts`` takes no page-size parameter (Trend picks the page; ``top`` is refused
  here as an unknown parameter) and sorts by ``orderBy`` ``"<field> asc|desc"`` (default
  ``createdDateTime desc``); option ``alerts_page_size`` (default 100) is the page Trend would serve;
* ``GET /v3.0/eiqs/endpoints`` requires the ``TMV1-Query`` header (400 without it), in every request;
* ``GET /v3.0/workbench/alerts/{id}`` answers the alert and its ``ETag``; ``PATCH`` of the same path
  ("Modify alert status") needs ``If-Match`` with that ETag (428 without, 412 on a stale one), takes
  ``status`` Open | In Progress | Closed and ``investigationResult``, re-stamps ``updatedDateTime`` and
  answers 204;
* ``POST /v3.0/response/endpoints/isolate`` | ``/restore`` take ``[{agentGuid, description}]`` and answer
  207 Multi-Status: per target ``{status: 202, headers: [{name: Operation-Location, value: .../tasks/<id>}]}``,
  or ``{status: 400, body: {error}}`` for an unknown agent.

Writes count nothing in ``created`` (they change objects) and honour ``after_write`` faults.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import (BadRequest, ProfileSimulator, StreamProfile, load_profile,
                                                       write_time)

PROFILE = Path(__file__).with_name("simulator.yaml")
STATUSES = {"Open", "In Progress", "Closed"}
RESULTS = {"No Findings", "Noteworthy", "True Positive", "False Positive", "Benign True Positive", "Other Findings"}


def etag_of(record: dict[str, Any]) -> str:
    return '"' + hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16] + '"'


class TrendVisionOneSimulator(ProfileSimulator):
    def __init__(self, **options: Any) -> None:
        self.alerts_page_size = int(options.pop("alerts_page_size", 100))
        super().__init__("trend_vision_one", load_profile(PROFILE), **options)

    def reset(self) -> None:
        super().reset()
        self.created = 0
        self.tasks = itertools.count(1)

    # -- lists ----------------------------------------------------------------------------------

    def sort_path(self, spec: StreamProfile, query: Any) -> tuple[str | None, bool]:
        if spec.sort is None:
            return None, False
        field, _, order = (query.get(spec.sort.param) or "createdDateTime desc").strip().partition(" ")
        if field not in spec.sort.fields or order.strip().lower() not in ("", "asc", "desc"):
            raise BadRequest(spec.sort.param, f"cannot sort by {field!r}")
        return spec.sort.fields[field], order.strip().lower() != "asc"

    def window(self, spec: StreamProfile, request: Request, rows: list[dict[str, Any]]) -> tuple[int, int]:
        if spec is self.profile.streams["alerts"]:
            if "top" in request.query_params:
                raise BadRequest("top", "not a parameter of this API")
            start, _ = super().window(spec, request, rows)
            return start, self.alerts_page_size
        return super().window(spec, request, rows)

    async def list_stream(self, request: Request) -> Response:
        if request.scope["route"].name == "endpoints" and not request.headers.get("tmv1-query"):
            denied, headers = self.guard(request)
            return denied or self.error(400, headers, field="TMV1-Query", message="TMV1-Query header is required")
        return await super().list_stream(request)

    # -- writes ---------------------------------------------------------------------------------

    def alert(self, alert_id: str) -> dict[str, Any] | None:
        return next((a for a in self.data.records["alerts"] if str(a.get("id")) == alert_id), None)

    def after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.error(fault.status, headers))

    async def get_alert(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        alert = self.alert(request.path_params["id"])
        if alert is None:
            return self.error(404, headers)
        return JSONResponse(alert, headers={**headers, "ETag": etag_of(alert)})

    async def patch_alert(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        alert = self.alert(request.path_params["id"])
        if alert is None:
            return self.error(404, headers)
        match = request.headers.get("if-match")
        if not match:
            return self.error(428, headers)
        if match != etag_of(alert):
            return self.error(412, headers)
        body = await json_object(request) or {}
        status, result = body.get("status"), body.get("investigationResult")
        if status not in STATUSES or (result is not None and result not in RESULTS):
            return self.error(400, headers, field="status / investigationResult")
        alert["status"] = status
        if result is not None:
            alert["investigationResult"] = result
        alert["updatedDateTime"] = write_time(self.data.now("alerts"), self.profile.streams["alerts"].clock.format)
        return self.after_write(Response(status_code=204, headers=headers), headers)

    async def response_action(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, list) or not body or not all(isinstance(t, dict) and t.get("agentGuid") for t in body):
            return self.error(400, headers, field="agentGuid")
        known = {str(e.get("agentGuid")) for e in self.data.records["endpoints"]}
        base = str(request.base_url).rstrip("/")
        answer = []
        for target in body:
            if str(target["agentGuid"]) in known:
                answer.append({"status": 202, "headers": [{"name": "Operation-Location",
                                                           "value": f"{base}/v3.0/xdr/response/tasks/{next(self.tasks):08d}"}]})
            else:
                answer.append({"status": 400, "body": {"error": {"code": "BadRequest",
                                                                 "message": "The agentGuid is not a managed endpoint."}}})
        return self.after_write(JSONResponse(answer, status_code=207, headers=headers), headers)

    def routes(self) -> list[Route]:
        return [
            *super().routes(),
            Route("/v3.0/workbench/alerts/{id}", self.get_alert, methods=["GET"]),
            Route("/v3.0/workbench/alerts/{id}", self.patch_alert, methods=["PATCH"]),
            Route("/v3.0/response/endpoints/isolate", self.response_action, methods=["POST"]),
            Route("/v3.0/response/endpoints/restore", self.response_action, methods=["POST"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / alerts / endpoints, malformed, per_timestamp, api_key,
    rate_limit, rate_window_seconds, replay) and ``alerts_page_size`` (default 100)."""
    return TrendVisionOneSimulator(**options).app()
