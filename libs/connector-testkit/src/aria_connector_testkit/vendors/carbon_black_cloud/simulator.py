"""Carbon Black Cloud on top of its profile (``simulator.yaml``): what a profile cannot say
(https://developer.carbonblack.com/reference/carbon-black-cloud/platform/latest/):

* searches are ``POST .../_search`` with a JSON body: ``criteria`` (field -> list of values, or a time
  range ``{start, end}`` in ISO 8601 UTC, both required), ``start`` (1-based), ``rows`` (at most 10,000,
  and ``start + rows`` at most 10,001: the search window), ``sort [{field, order: ASC|DESC}]``; the answer is
  ``{results, num_found[, num_available]}``; the org key in the path must be the installation's;
* writes: Bulk Create Workflows (``POST .../alerts/workflow``: ``criteria.id``, ``status`` OPEN |
  IN_PROGRESS | CLOSED, ``closure_reason``, ``note``; ``{"request_id"}``) and Execute Device Actions
  (``POST .../device_actions``: ``action_type`` QUARANTINE, ``device_id`` list, ``options.toggle``
  ON | OFF; 204), each re-stamping the object so an incremental read sees the change.

Writes count nothing in ``created`` (they change objects) and honour ``after_write`` faults.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import (ProfileSimulator, load_profile, order_value, parse_time, read,
                                                       write_time)

PROFILE = Path(__file__).with_name("simulator.yaml")
# criteria / sort field -> record path, per stream (the documented fields the connector uses)
FIELDS = {
    "alerts": {"backend_update_timestamp": "backend_update_timestamp", "backend_timestamp": "backend_timestamp",
               "id": "id", "type": "type", "device_id": "device_id", "workflow_status": "workflow.status",
               "severity": "severity"},
    "devices": {"last_contact_time": "last_contact_time", "registered_time": "registered_time", "id": "id",
                "status": "status", "os": "os"},
}
TIME_FIELDS = {"backend_update_timestamp", "backend_timestamp", "last_contact_time", "registered_time"}
WINDOW = 10_000
WORKFLOW_STATUSES = {"OPEN", "IN_PROGRESS", "CLOSED"}
CLOSURE_REASONS = {"NO_REASON", "RESOLVED", "RESOLVED_BENIGN_KNOWN_GOOD", "DUPLICATE_CLEANUP", "OTHER"}


class Invalid(ValueError):
    pass


class CarbonBlackCloudSimulator(ProfileSimulator):
    def __init__(self, **options: Any) -> None:
        self.org_key = str(options.pop("org_key", "DEMO1234"))
        super().__init__("carbon_black_cloud", load_profile(PROFILE), **options)

    def reset(self) -> None:
        super().reset()
        self.created = 0
        self.jobs = itertools.count(7001)

    def org_denied(self, request: Request, headers: dict[str, str]) -> Response | None:
        """A key belongs to one org: another org key in the path is refused as the vendor does (403)."""
        if request.path_params.get("org_key") != self.org_key:
            return self.error(403, headers)
        return None

    # -- searches -------------------------------------------------------------------------------

    def search(self, name: str, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
        fields = FIELDS[name]
        rows = list(self.data.records[name])
        criteria = body.get("criteria") or {}
        if not isinstance(criteria, dict):
            raise Invalid("criteria")
        for field, wanted in criteria.items():
            if field not in fields:
                raise Invalid(f"criteria.{field}")
            path = fields[field]
            if field in TIME_FIELDS:
                if not isinstance(wanted, dict) or not wanted.get("start") or not wanted.get("end"):
                    raise Invalid(f"criteria.{field}: a time range needs start and end")
                try:
                    lo, hi = parse_time(wanted["start"], "iso8601"), parse_time(wanted["end"], "iso8601")
                except ValueError:
                    raise Invalid(f"criteria.{field}: not ISO 8601") from None
                rows = [r for r in rows if read(r, path) and lo <= parse_time(read(r, path), "iso8601") <= hi]
            else:
                if not isinstance(wanted, list):
                    raise Invalid(f"criteria.{field}: a list of values")
                keep = {str(w) for w in wanted}
                rows = [r for r in rows if str(read(r, path)) in keep]
        sort = body.get("sort")
        if sort is not None:
            if not isinstance(sort, list) or not sort or not all(
                    isinstance(s, dict) and s.get("field") in fields and str(s.get("order", "ASC")).upper() in
                    ("ASC", "DESC") for s in sort):
                raise Invalid("sort")
            first = sort[0]
            path, id_field = fields[first["field"]], self.profile.streams[name].id_field
            rows.sort(key=lambda r: (order_value(read(r, path)), order_value(read(r, id_field))),
                      reverse=str(first.get("order", "ASC")).upper() == "DESC")
        start, limit = body.get("start", 1), body.get("rows", 100)
        if not isinstance(start, int) or not isinstance(limit, int) or start < 1 or not 1 <= limit <= WINDOW:
            raise Invalid("start / rows")
        if start - 1 + limit > WINDOW:
            raise Invalid("start + rows exceeds the 10000 row search window")
        return rows, start - 1, limit

    async def list_stream(self, request: Request) -> Response:
        name = request.scope["route"].name
        denied, headers = self.guard(request)
        if denied:
            return denied
        wrong_org = self.org_denied(request, headers)
        if wrong_org:
            return wrong_org
        body = await json_object(request)
        if body is None:
            return self.error(400, headers, field="body")
        try:
            rows, first, limit = self.search(name, body)
        except Invalid as exc:
            return self.error(400, headers, field=str(exc))
        answer: dict[str, Any] = {"results": rows[first:first + limit], "num_found": len(rows)}
        if name == "alerts":
            answer["num_available"] = len(rows)
        return JSONResponse(answer, headers=headers)

    # -- writes ---------------------------------------------------------------------------------

    def restamp(self, stream: str, record: dict[str, Any]) -> str:
        spec = self.profile.streams[stream]
        now = write_time(self.data.now(stream), spec.clock.format)
        for path, vary in spec.fields.items():
            if vary.clock == "now":
                record[path] = now
        return now

    def after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.error(fault.status, headers))

    async def workflow(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        wrong_org = self.org_denied(request, headers)
        if wrong_org:
            return wrong_org
        body = await json_object(request) or {}
        ids = (body.get("criteria") or {}).get("id")
        status, reason = body.get("status"), body.get("closure_reason")
        if not isinstance(ids, list) or not ids or status not in WORKFLOW_STATUSES or \
                (reason is not None and reason not in CLOSURE_REASONS):
            return self.error(400, headers, field="criteria.id / status / closure_reason")
        wanted = {str(i) for i in ids}
        for alert in self.data.records["alerts"]:
            if str(alert.get("id")) in wanted:
                now = self.restamp("alerts", alert)
                alert["workflow"] = {**(alert.get("workflow") or {}), "status": status, "change_timestamp": now,
                                     "changed_by_type": "API", "closure_reason": reason or "NO_REASON"}
        return self.after_write(JSONResponse({"request_id": str(next(self.jobs))}, headers=headers), headers)

    async def device_actions(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        wrong_org = self.org_denied(request, headers)
        if wrong_org:
            return wrong_org
        body = await json_object(request) or {}
        ids, toggle = body.get("device_id"), (body.get("options") or {}).get("toggle")
        if body.get("action_type") != "QUARANTINE" or not isinstance(ids, list) or not ids or toggle not in ("ON", "OFF"):
            return self.error(400, headers, field="action_type / device_id / options.toggle")
        wanted = {str(i) for i in ids}
        found = [d for d in self.data.records["devices"] if str(d.get("id")) in wanted]
        if not found:
            return self.error(404, headers)
        for device in found:
            device["quarantined"] = toggle == "ON"
            self.restamp("devices", device)
        return self.after_write(Response(status_code=204, headers=headers), headers)

    def routes(self) -> list[Route]:
        return [
            *super().routes(),
            Route("/api/alerts/v7/orgs/{org_key}/alerts/workflow", self.workflow, methods=["POST"]),
            Route("/appservices/v6/orgs/{org_key}/device_actions", self.device_actions, methods=["POST"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / alerts / devices, malformed, per_timestamp,
    auth_token (``<secret>/<api id>``), rate_limit, rate_window_seconds, replay) and ``org_key``
    (default DEMO1234)."""
    return CarbonBlackCloudSimulator(**options).app()
