"""Checkmarx One: projects and the results envelope are the profile (``simulator.yaml``); this adds
what a profile cannot say: the completed-scan listing (``GET /api/scans``: statuses, from-date on
the scan's creation, sort=+created_at, offset/limit), results per scan (``GET /api/results?scan-id=``)
and the API-key grant (``grant_type=refresh_token``, ``client_id=ast-app``) next to client credentials.

Scans are not a stream: their fields are those of Checkmarx's Python SDK ``Scan`` model
(checkmarx-ts/checkmarx-python-sdk, MIT), not a recorded response. Seeded results are spread over
scans of four; every result added later (the control protocol) comes with a new completed scan, the
way a new scan brings new results."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Stream
from aria_connector_testkit.simulators.profile import (
    BadRequest, ProfileSimulator, fill, load_profile, parse_time, write_time)

PROFILE = Path(__file__).with_name("simulator.yaml")
SCAN_CLOCK = datetime(2024, 5, 1, tzinfo=timezone.utc)
PER_SCAN = 4


class CheckmarxOneSimulator(ProfileSimulator):
    def __init__(self, **options: Any) -> None:
        self.api_key = str(options.pop("api_key", "demo-cx-api-key-0123456789abcdef"))
        super().__init__("checkmarx_one", load_profile(PROFILE), **options)

    def reset(self) -> None:
        super().reset()
        self.scans: list[dict[str, Any]] = []
        self.scan_of: dict[int, str] = {}
        for i, record in enumerate(self.data.records["results"]):
            if i % PER_SCAN == 0:
                self.new_scan()
            self.scan_of[id(record)] = self.scans[-1]["id"]

    def new_scan(self) -> dict[str, Any]:
        n = len(self.scans)
        created = SCAN_CLOCK + timedelta(minutes=10 * n)
        sid = hashlib.sha1(f"scan-{n}".encode()).hexdigest()
        scan = {
            "id": f"{sid[:8]}-{sid[8:12]}-4{sid[13:16]}-a{sid[17:20]}-{sid[20:32]}", "status": "Completed",
            "statusDetails": [{"name": "sast", "status": "Completed", "details": ""},
                              {"name": "sca", "status": "Completed", "details": ""}],
            "branch": "main", "createdAt": write_time(created, "%Y-%m-%dT%H:%M:%S.%fZ"),
            "updatedAt": write_time(created + timedelta(minutes=4), "%Y-%m-%dT%H:%M:%S.%fZ"),
            "projectId": f"a2feaa26-a515-4716-a2c5-{n % 5 + 1:012d}", "projectName": f"acme/service-{n % 5 + 1:03d}",
            "userAgent": "ASTCLI/2.0.54 (linux; amd64)", "initiator": "ci@acme.example", "tags": {},
            "metadata": {"id": sid, "type": "git", "configs": []}, "engines": ["sast", "sca"],
            "sourceType": "github", "sourceOrigin": "GitHub"}
        self.scans.append(scan)
        return scan

    def streams(self) -> dict[str, Stream]:
        streams = super().streams()
        results = streams["results"]

        def add(malformed: bool = False) -> dict[str, Any]:
            record = results.add(malformed)
            scan = self.new_scan()
            self.scan_of[id(record)] = scan["id"]
            # the connector's identity of a result: its project (the scan's) and its similarityId
            return {**record, "_identity": f"{scan['projectId']}:{record['similarityId']}"}

        def touch(n: int) -> list[str]:
            touched = set(results.touch(n))
            by_scan = {s["id"]: s["projectId"] for s in self.scans}
            return [f"{by_scan.get(self.scan_of.get(id(r), ''))}:{r['similarityId']}"
                    for r in results.records if str(r.get("id")) in touched]

        streams["results"] = Stream(results.records, results.malformed, add, touch, "_identity")
        return streams

    def window_of(self, request: Request, rows: list[Any]) -> tuple[list[Any], int]:
        q = request.query_params
        try:
            offset, limit = int(q.get("offset", 0)), int(q.get("limit", 20))
        except ValueError:
            raise BadRequest("offset", "must be an integer") from None
        if offset < 0 or limit < 0:
            raise BadRequest("limit", "must not be negative")
        return (rows[offset:] if limit == 0 else rows[offset:offset + limit]), len(rows)

    async def list_scans(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        q = request.query_params
        rows = list(self.scans)
        try:
            if q.get("statuses"):
                wanted = {s.strip().lower() for s in q["statuses"].split(",")}
                rows = [s for s in rows if s["status"].lower() in wanted]
            if q.get("from-date"):
                try:
                    bound = parse_time(q["from-date"], "iso8601")
                except ValueError:
                    raise BadRequest("from-date", "not an RFC 3339 time") from None
                rows = [s for s in rows if parse_time(s["createdAt"], "iso8601") >= bound]
            sort = q.get("sort", "+created_at")
            rows.sort(key=lambda s: s["createdAt"], reverse=sort.startswith("-created_at"))
            page, total = self.window_of(request, rows)
        except BadRequest as exc:
            return self.error(400, headers, message=str(exc))
        return self.answer({"totalCount": len(self.scans), "filteredTotalCount": total, "scans": page}, headers=headers)

    async def list_results(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        scan_id = request.query_params.get("scan-id")
        if not scan_id:
            return self.error(400, headers, message="scan-id is required")
        rows = [r for r in self.data.records["results"] if self.scan_of.get(id(r), self.replay_scan()) == scan_id]
        try:
            page, total = self.window_of(request, rows)
        except BadRequest as exc:
            return self.error(400, headers, message=str(exc))
        return self.answer(fill(self.profile.streams["results"].envelope, {"records": page, "total": total}),
                           headers=headers)

    def replay_scan(self) -> str | None:
        """Replayed results (no scan of their own) belong to one completed scan."""
        if not self.scans:
            self.new_scan()
        return self.scans[0]["id"] if self.replay is not None else None

    async def issue_token(self, request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body.decode())
        if form.get("grant_type", [""])[0] != "refresh_token":
            return await super().issue_token(request)
        gate = self.control.admit(request, budget=False)
        if gate.status is not None:
            return self.error(gate.status, {"Retry-After": str(gate.retry_after)} if gate.status == 429 else {})
        if form.get("client_id", [""])[0] != "ast-app" or form.get("refresh_token", [""])[0] != self.api_key:
            return self.answer({"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400)
        token = hashlib.sha256(f"{self.tokens_issued}:{datetime.now(timezone.utc)}".encode()).hexdigest()
        self.tokens[token] = datetime.now(timezone.utc) + timedelta(seconds=self.token_ttl)
        self.tokens_issued += 1
        return self.answer({"access_token": token, "expires_in": self.token_ttl, "refresh_expires_in": 0,
                            "token_type": "Bearer", "not-before-policy": 0, "scope": "email profile"})

    def routes(self) -> list[Route]:
        routes = [r for r in super().routes() if getattr(r, "name", None) != "results"]
        return routes + [Route("/api/scans", self.list_scans, methods=["GET"]),
                         Route("/api/results", self.list_results, methods=["GET"], name="results")]


def create_app(**options: Any) -> Any:
    """Options: those of the profile (seed, records / projects / results, malformed, per_timestamp,
    client_id, client_secret, token_ttl, rate_limit, rate_window_seconds, replay) and ``api_key``."""
    return CheckmarxOneSimulator(**options).app()
