"""Cortex XDR on top of its profile (``simulator.yaml``): what a profile cannot say
(https://docs-cortex.paloaltonetworks.com/r/Cortex-XDR-REST-API):

* every list is a ``POST`` whose JSON body holds ``request_data``: ``filters`` (``{field, operator,
  value}`` terms AND-ed; ``gte``/``lte``/``eq``/``in``; times in epoch ms), ``search_from`` (zero-based)
  and ``search_to`` (exclusive; at most 100 results a call), ``sort {field, keyword: asc|desc}``;
  the answer is ``{"reply": {"total_count", "result_count", <list>}}``;
* authentication: ``x-xdr-auth-id`` must be the key id; a standard key sends ``Authorization: <key>``,
  an advanced key ``x-xdr-nonce`` (64 characters), ``x-xdr-timestamp`` (epoch ms, within 5 minutes)
  and ``Authorization: sha256(key + nonce + timestamp)`` hex (a replayed nonce is refused);
* writes: ``incidents/update_incident/`` (``{"reply": true}``), ``endpoints/isolate/`` and
  ``endpoints/unisolate/`` (``{"reply": {"action_id", "status", "endpoints_count"}}``), each
  re-stamping the object so an incremental read sees the change.

Writes count nothing in ``created`` (they change objects) and honour ``after_write`` faults.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, load_profile, order_value, read, write_time

PROFILE = Path(__file__).with_name("simulator.yaml")
# request_data filter / sort field -> record path, per stream (the documented fields the connector uses)
FIELDS = {
    "incidents": {"modification_time": "modification_time", "creation_time": "creation_time",
                  "incident_id_list": "incident_id", "status": "status", "severity": "severity"},
    "alerts": {"server_creation_time": "local_insert_ts", "creation_time": "detection_timestamp",
               "alert_id_list": "alert_id", "severity": "severity"},
    "endpoints": {"last_seen": "last_seen", "first_seen": "first_seen", "endpoint_id_list": "endpoint_id",
                  "endpoint_status": "endpoint_status"},
}
LIST_KEY = {"incidents": "incidents", "alerts": "alerts", "endpoints": "endpoints"}
MAX_RESULTS = 100
TIMESTAMP_TOLERANCE_MS = 5 * 60 * 1000
INCIDENT_STATUSES = {"new", "under_investigation", "resolved_threat_handled", "resolved_known_issue",
                     "resolved_false_positive", "resolved_duplicate", "resolved_other", "resolved_auto",
                     "resolved_security_testing"}


class Invalid(ValueError):
    pass


def matches(value: Any, operator: str, wanted: Any) -> bool:
    if operator == "in":
        return str(value) in {str(w) for w in (wanted if isinstance(wanted, list) else [wanted])}
    if operator in ("eq", "neq"):
        return (str(value) == str(wanted)) == (operator == "eq")
    if value is None:
        return False
    a, b = order_value(value), order_value(wanted)
    return a >= b if operator == "gte" else a <= b


class CortexXdrSimulator(ProfileSimulator):
    def __init__(self, **options: Any) -> None:
        # a tenant may hold several keys: here one standard and one advanced, each with its own id
        self.key_id = str(options.pop("api_key_id", "17"))
        self.advanced_key_id = str(options.pop("advanced_api_key_id", "18"))
        self.advanced_key = str(options.pop("advanced_api_key", "demo-xdr-advanced-key-0123456789abcdef"))
        super().__init__("cortex_xdr", load_profile(PROFILE), **options)

    def reset(self) -> None:
        super().reset()
        self.created = 0
        self.nonces: set[str] = set()

    # -- auth -------------------------------------------------------------------------------------

    def authenticated(self, request: Request) -> bool:
        h = request.headers
        key_id, nonce, stamp = h.get("x-xdr-auth-id", ""), h.get("x-xdr-nonce"), h.get("x-xdr-timestamp")
        if hmac.compare_digest(key_id, self.key_id):  # the standard key: sent as is
            return nonce is None and hmac.compare_digest(h.get("authorization", ""), self.secrets["api_key"])
        if not hmac.compare_digest(key_id, self.advanced_key_id):
            return False
        key = self.advanced_key
        if not nonce or len(nonce) != 64 or not stamp or not stamp.isdigit() or nonce in self.nonces:
            return False
        if abs(int(stamp) - int(time.time() * 1000)) > TIMESTAMP_TOLERANCE_MS:
            return False
        want = hashlib.sha256(f"{key}{nonce}{stamp}".encode()).hexdigest()
        if not hmac.compare_digest(h.get("authorization", ""), want):
            return False
        self.nonces.add(nonce)
        return True

    # -- lists --------------------------------------------------------------------------------------

    def search(self, name: str, data: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int]:
        fields = FIELDS[name]
        rows = list(self.data.records[name])
        filters = data.get("filters") or []
        if not isinstance(filters, list):
            raise Invalid("filters must be a list")
        for term in filters:
            if not isinstance(term, dict) or term.get("field") not in fields or \
                    term.get("operator") not in ("gte", "lte", "eq", "neq", "in"):
                raise Invalid(f"invalid filter {term!r}")
            path = fields[term["field"]]
            rows = [r for r in rows if matches(read(r, path), term["operator"], term.get("value"))]
        sort = data.get("sort")
        if sort is not None:
            if not isinstance(sort, dict) or sort.get("field") not in fields or \
                    str(sort.get("keyword", "asc")).lower() not in ("asc", "desc"):
                raise Invalid(f"invalid sort {sort!r}")
            path, id_field = fields[sort["field"]], self.profile.streams[name].id_field
            rows.sort(key=lambda r: (order_value(read(r, path)), order_value(read(r, id_field))),
                      reverse=str(sort.get("keyword", "asc")).lower() == "desc")
        start, end = data.get("search_from", 0), data.get("search_to", start_default(data) + MAX_RESULTS)
        if not isinstance(start, int) or not isinstance(end, int) or start < 0 or end <= start:
            raise Invalid("search_from / search_to must be integers with 0 <= search_from < search_to")
        return rows, start, min(end, start + MAX_RESULTS)

    async def list_stream(self, request: Request) -> Response:
        name = request.scope["route"].name
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        data = (body or {}).get("request_data")
        if not isinstance(data, dict):
            return self.error(400, headers, field="request_data", message="request_data is required")
        try:
            rows, start, end = self.search(name, data)
        except Invalid as exc:
            return self.error(400, headers, field=str(exc), message="Invalid request")
        page = rows[start:end]
        return JSONResponse({"reply": {"total_count": len(rows), "result_count": len(page), LIST_KEY[name]: page}},
                            headers=headers)

    # -- writes -------------------------------------------------------------------------------------

    def restamp(self, stream: str, record: dict[str, Any]) -> None:
        spec = self.profile.streams[stream]
        for path, vary in spec.fields.items():
            if vary.clock == "now":
                record[path] = write_time(self.data.now(stream), spec.clock.format)

    def after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.error(fault.status, headers))

    async def update_incident(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        data = ((await json_object(request)) or {}).get("request_data") or {}
        update = data.get("update_data") or {}
        found = next((r for r in self.data.records["incidents"] if r.get("incident_id") == str(data.get("incident_id"))),
                     None)
        if found is None:
            return self.error(500, headers, message="Incident not found", extra=str(data.get("incident_id")))
        if "status" in update and update["status"] not in INCIDENT_STATUSES:
            return self.error(400, headers, message="Invalid request", extra="status")
        for field in ("status", "resolve_comment", "assigned_user_mail", "manual_severity"):
            if field in update:
                found[field] = update[field]
        self.restamp("incidents", found)
        return self.after_write(JSONResponse({"reply": True}, headers=headers), headers)

    async def isolation(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        data = ((await json_object(request)) or {}).get("request_data") or {}
        found = next((r for r in self.data.records["endpoints"] if r.get("endpoint_id") == str(data.get("endpoint_id"))),
                     None)
        if found is None:
            return self.error(500, headers, message="Endpoint not found", extra=str(data.get("endpoint_id")))
        isolate = request.url.path.rstrip("/").endswith("/isolate")
        found["is_isolated"] = "AGENT_ISOLATED" if isolate else "AGENT_UNISOLATED"
        self.restamp("endpoints", found)
        answer = {"reply": {"action_id": str(10500 + len(self.nonces) + int(time.time()) % 1000), "status": "1",
                            "endpoints_count": "1"}}
        return self.after_write(JSONResponse(answer, headers=headers), headers)

    def routes(self) -> list[Route]:
        return [
            *super().routes(),
            Route("/public_api/v1/incidents/update_incident/", self.update_incident, methods=["POST"]),
            Route("/public_api/v1/endpoints/isolate/", self.isolation, methods=["POST"]),
            Route("/public_api/v1/endpoints/unisolate/", self.isolation, methods=["POST"]),
        ]


def start_default(data: dict[str, Any]) -> int:
    value = data.get("search_from", 0)
    return value if isinstance(value, int) else 0


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / incidents / alerts / endpoints, malformed,
    per_timestamp, api_key, rate_limit, rate_window_seconds, replay) with ``api_key_id`` (default 17): the
    standard key; ``advanced_api_key_id`` (default 18) and ``advanced_api_key``: an advanced key, whose
    requests carry a nonce hash."""
    return CortexXdrSimulator(**options).app()
