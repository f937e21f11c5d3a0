"""Sophos Central on top of its profile (``simulator.yaml``): what a profile cannot say.

* ``GET /whoami/v1`` (https://developer.sophos.com/getting-started-tenant): the credential's id,
  ``idType`` and ``apiHosts`` - the data region is this simulator itself. Option ``id_type``
  ``partner`` or ``organization`` answers as a partner / organization credential
  (https://developer.sophos.com/getting-started) and serves
  ``GET /{partner|organization}/v1/tenants/{id}`` (with ``X-Partner-ID`` / ``X-Organization-ID``);
* tenant-level routes need ``X-Tenant-ID`` naming the tenant (403 otherwise);
* ``POST /endpoint/v1/endpoints/isolation {enabled, ids, comment}`` -> the endpoints' isolation state;
* ``POST /common/v1/alerts/{alertId}/actions {action, message}`` -> 201 the action. Accepted actions:
  the alert's ``allowedActions`` and ``acknowledge``; acknowledging again answers the same way.

Writes honour ``after_write`` faults; nothing is created (``created`` stays 0).
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, load_profile

PROFILE = Path(__file__).with_name("simulator.yaml")
TENANT_ID = "11f104c5-cc4a-4a9f-bb9c-632c936dfb9f"
OWNER_ID = "5ac55058-622d-4929-8e5d-8ff554f312fe"
ID_HEADERS = {"partner": "x-partner-id", "organization": "x-organization-id"}
HOME = ("/whoami/v1", "/partner/", "/organization/")


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H.%M.%S GMT")


class SophosCentralSimulator(ProfileSimulator):
    def __init__(self, key: str, profile: Any, *, id_type: str = "tenant", tenant_id: str = TENANT_ID,
                 **options: Any) -> None:
        if id_type not in ("tenant", "partner", "organization"):
            raise TypeError(f"id_type must be tenant, partner or organization, not {id_type!r}")
        self.id_type, self.tenant_id = id_type, tenant_id
        super().__init__(key, profile, **options)

    def reset(self) -> None:
        super().reset()
        self.created = 0
        self.isolation: dict[str, dict[str, Any]] = {}
        self.actions: dict[str, dict[str, Any]] = {}

    def guard(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        denied, headers = super().guard(request)
        if denied is None and not request.url.path.startswith(HOME) \
                and request.headers.get("x-tenant-id") != self.tenant_id:
            return self.error(403, headers), headers
        return denied, headers

    async def whoami(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        base = str(request.base_url).rstrip("/")
        if self.id_type == "tenant":
            body = {"id": self.tenant_id, "idType": "tenant", "apiHosts": {"global": base, "dataRegion": base}}
        else:
            body = {"id": OWNER_ID, "idType": self.id_type, "apiHosts": {"global": base}}
        return JSONResponse(body, headers=headers)

    async def tenant(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        kind = request.url.path.split("/")[1]
        if kind != self.id_type or request.headers.get(ID_HEADERS[kind], "").lower() != OWNER_ID:
            return self.error(403, headers)
        if request.path_params["tenant_id"] != self.tenant_id:
            return self.error(404, headers)
        base = str(request.base_url).rstrip("/")
        return JSONResponse({"id": self.tenant_id, "name": "Example Tenant", "dataGeography": "IE", "dataRegion": "eu01",
                             "billingType": "term", "partner": {"id": OWNER_ID}, "apiHost": base, "status": "active"},
                            headers=headers)

    def after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.error(fault.status, headers))

    async def isolate(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        ids = body.get("ids") if body else None
        if body is None or not isinstance(body.get("enabled"), bool) or not isinstance(ids, list) or not ids:
            return self.error(400, headers, message="enabled (boolean) and ids (a non-empty list) are required")
        known = {str(e.get("id")) for e in self.data.records["endpoints"]}
        if any(str(i) not in known for i in ids):
            return self.error(400, headers, message="Unknown endpoint id")
        items = []
        for endpoint_id in ids:
            state = self.isolation.setdefault(endpoint_id, {"enabled": False})
            state["enabled"] = body["enabled"]
            state["lastEnabledAt" if body["enabled"] else "lastDisabledAt"] = stamp()
            state["lastEnabledBy" if body["enabled"] else "lastDisabledBy"] = {"id": OWNER_ID}
            if body.get("comment") is not None:
                state["comment"] = body["comment"]
            items.append({"id": endpoint_id, "isolation": dict(state)})
        return self.after_write(JSONResponse({"items": items}, headers=headers), headers)

    async def alert_action(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        alert_id = request.path_params["alert_id"]
        alert = next((a for a in self.data.records["alerts"] if str(a.get("id")) == alert_id), None)
        if alert is None:
            return self.error(404, headers)
        body = await json_object(request)
        action = body.get("action") if body else None
        if action not in {"acknowledge", *(alert.get("allowedActions") or [])}:
            return self.error(400, headers, message=f"Action {action!r} is not allowed for this alert")
        done = self.actions.get(f"{alert_id}:{action}")
        if done is None:
            done = {"action": action, "alertId": alert_id, "id": f"e3719218-c243-4766-b709-{len(self.actions):012d}",
                    "requestedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "result": "success", "status": "requested"}
            self.actions[f"{alert_id}:{action}"] = done
        return self.after_write(JSONResponse(done, status_code=201, headers=headers), headers)

    def routes(self) -> list[Route]:
        return [
            *super().routes(),
            Route("/whoami/v1", self.whoami, methods=["GET"]),
            Route("/partner/v1/tenants/{tenant_id}", self.tenant, methods=["GET"]),
            Route("/organization/v1/tenants/{tenant_id}", self.tenant, methods=["GET"]),
            Route("/endpoint/v1/endpoints/isolation", self.isolate, methods=["POST"]),
            Route("/common/v1/alerts/{alert_id}/actions", self.alert_action, methods=["POST"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / alerts / endpoints, malformed, per_timestamp,
    client_id, client_secret, token_ttl, rate_limit, rate_window_seconds, replay) and ``id_type``
    (tenant | partner | organization), ``tenant_id``."""
    return SophosCentralSimulator("sophos_central", load_profile(PROFILE), **options).app()
