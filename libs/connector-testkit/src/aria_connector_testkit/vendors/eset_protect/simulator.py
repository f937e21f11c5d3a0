"""ESET Connect on top of its profile (``simulator.yaml``): what a profile cannot say.

* ``POST /oauth/token`` (``{region}.business-account.iam.eset.systems``): the resource owner password
  grant, form ``grant_type=password&username=..&password=..``; a wrong user or password is 400
  ``{"error": "invalid_grant"}`` (RFC 6749 5.2);
* ``POST /v1/device_tasks`` (``{region}.automation.eset.systems``) ``{"task": {"action": {"name"},
  "targets": {"devicesUuids"}, "triggers", "displayName", "description"}}`` -> the task. Actions served:
  StartNetworkIsolation, EndNetworkIsolation; the targets must be known devices.

Tasks are actions on devices the vendor already has: ``created`` stays 0.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, fill, load_profile, order_value, read

PROFILE = Path(__file__).with_name("simulator.yaml")
ACTIONS = ("StartNetworkIsolation", "EndNetworkIsolation")


class EsetProtectSimulator(ProfileSimulator):
    def reset(self) -> None:
        super().reset()
        self.created = 0
        self.tasks: list[dict[str, Any]] = []
        self.isolated: set[str] = set()

    def matching(self, spec: Any, rows: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
        """ESET takes no sort parameter and pages with an opaque token over its own order; here that
        order is the uuid, which the keyset token needs."""
        rows = super().matching(spec, rows, query)
        return sorted(rows, key=lambda r: order_value(read(r, spec.id_field))) if spec.sort is None else rows

    async def issue_token(self, request: Request) -> Response:
        auth = self.profile.auth
        gate = self.control.admit(request, budget=False)
        if gate.status is not None:
            retry = {"Retry-After": str(gate.retry_after)} if gate.status == 429 else {}
            return self.error(gate.status, retry)
        form = parse_qs((await request.body()).decode())
        given = (form.get("grant_type", [""])[0], form.get("username", [""])[0], form.get("password", [""])[0])
        if given != ("password", self.secrets[auth.client_id.option], self.secrets[auth.client_secret.option]):
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid username or password"},
                                status_code=400)
        token = hashlib.sha256(f"{self.tokens_issued}:{datetime.now(timezone.utc)}".encode()).hexdigest()
        self.tokens[token] = datetime.now(timezone.utc) + timedelta(seconds=self.token_ttl)
        self.tokens_issued += 1
        return JSONResponse(fill(auth.token.response, {"token": token, "expires_in": self.token_ttl}))

    async def device_task(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        task = body.get("task") if body else None
        if not isinstance(task, dict):
            return self.error(400, headers, message="task is required")
        name = (task.get("action") or {}).get("name")
        if name not in ACTIONS:
            return self.error(400, headers, message=f"unsupported action {name!r}")
        uuids = (task.get("targets") or {}).get("devicesUuids")
        known = {str(d.get("uuid")) for d in self.data.records["devices"]}
        if not isinstance(uuids, list) or not uuids or any(str(u) not in known for u in uuids):
            return self.error(400, headers, message="targets.devicesUuids must name known devices")
        for uuid in uuids:
            (self.isolated.add if name == "StartNetworkIsolation" else self.isolated.discard)(str(uuid))
        expire = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = {"uuid": f"987439d1-fa81-4330-b9db-{len(self.tasks):012d}", "versionId": str(800 + len(self.tasks)),
                  "displayName": task.get("displayName") or name, "description": task.get("description") or "",
                  "action": {"name": name}, "targets": {"devicesUuids": uuids, "deviceGroupsUuids": []},
                  "triggers": [{"manual": {"expireTime": expire}}], "source": "DEVICE_TASK_SOURCE_UNSPECIFIED",
                  "assetGroupUuid": ""}
        self.tasks.append(answer)
        return self.control.answer_write(JSONResponse({"task": answer}, headers=headers),
                                         lambda fault: self.error(fault.status, headers))

    def routes(self) -> list[Route]:
        return [*super().routes(), Route("/v1/device_tasks", self.device_task, methods=["POST"])]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / detections / devices, malformed, per_timestamp,
    username, password, token_ttl, rate_limit, rate_window_seconds, replay)."""
    return EsetProtectSimulator("eset_protect", load_profile(PROFILE), **options).app()
