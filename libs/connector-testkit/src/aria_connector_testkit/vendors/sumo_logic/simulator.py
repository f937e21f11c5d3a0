"""Simulator of the Sumo Logic APIs the connector uses.

Faithful to the public documentation:

* Search Job API - https://help.sumologic.com/docs/api/search-job/ :
  ``POST /api/v1/search/jobs`` ``{"query", "from", "to", "timeZone", "byReceiptTime"}``
  (``from``/``to`` as epoch milliseconds or ISO-8601 local to ``timeZone``) -> 202
  ``{"id", "link": {"rel": "self", "href"}}`` and session cookies; ``GET
  /api/v1/search/jobs/{id}`` -> ``{"state": "NOT STARTED"|"GATHERING RESULTS"|"DONE
  GATHERING RESULTS"|"FORCE PAUSED"|"CANCELLED", "messageCount", "recordCount",
  "histogramBuckets", "pendingWarnings", "pendingErrors"}``; ``GET
  /api/v1/search/jobs/{id}/messages?offset&limit`` (limit <= 10000) -> ``{"fields": [{"name",
  "fieldType", "keyField"}], "messages": [{"map": {...}}]}`` with lower-case field names and
  string values (``_messageid``, ``_messagetime`` and ``_receipttime`` in epoch ms,
  ``_raw``, ``_sourcehost``, ``_sourcename``, ``_sourcecategory``, ``_collector``,
  ``_source``, ``_size``, ``_format``, ``_view``, ``_blockid``, plus parsed fields);
  ``DELETE /api/v1/search/jobs/{id}``; an unknown job is 404 ``jobid.invalid``.
* Collectors - https://help.sumologic.com/docs/api/collector-management/collector-api-methods-examples/ :
  ``GET /api/v1/collectors?offset&limit`` (default limit 1000) -> ``{"collectors": [{"id",
  "name", "collectorType" (Installable|Hosted), "collectorVersion", "alive",
  "lastSeenAlive", "hostName", "osName", "osVersion", "osArch", "category", "timeZone",
  "ephemeral", "sourceSyncMode", "cutoffTimestamp", "description", "fields", "links"}]}``,
  ordered by id.
* Getting started - https://help.sumologic.com/docs/api/getting-started/ : basic auth with
  access id / access key; errors ``{"status", "id", "code", "message"}`` (401
  ``unauthorized``); 4 requests per second per user, 429 ``rate.limit.exceeded``.

The simulator evaluates no query language: every search returns the alert messages
(JSON ``_raw`` with ``alert_id``, ``title``, ``severity``, ``status``, ``rule_name``,
``device_hostname``, ``tactic``, ``technique``, parsed into fields as ``| json auto``
would) whose ``_messagetime`` lies in ``[from, to]``. An updated alert is a newer message
for the same ``alert_id``. Demo credentials: ``suDemoAccessId01`` / ``demo-sumo-access-key-0123456789``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, basic_credentials, record_counts, seed_records

DEMO_ACCESS_ID = "suDemoAccessId01"
DEMO_ACCESS_KEY = "demo-sumo-access-key-0123456789"
T0_MS = int(datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp() * 1000)
ALERTS = [
    ("Impossible travel for user {user}", "high", "Initial Access", "T1078"),
    ("Suspicious PowerShell download cradle on {host}", "critical", "Execution", "T1059.001"),
    ("Brute force against SSH on {host}", "medium", "Credential Access", "T1110"),
    ("Outbound traffic to TOR exit node from {host}", "medium", "Command and Control", "T1090.003"),
    ("New admin account created by {user}", "low", "Persistence", "T1136"),
    ("Port scan from {host}", "informational", "Discovery", "T1046"),
]
STATUSES = ["new", "new", "in_progress", "resolved", "closed"]


def _err(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "id": uuid.uuid4().hex[:5].upper() + "-" + uuid.uuid4().hex[:5].upper(),
                         "code": code, "message": message}, status_code=status, headers=headers)


class SumoData(SeededData):
    def __init__(self, seed: int, messages: int, collectors: int, malformed: int = 0, per_timestamp: int = 2) -> None:
        super().__init__(seed, per_timestamp)
        self.next_message_id = -9_000_000_000_000_000_000 + seed * 1_000_000
        self.messages: dict[str, dict[str, Any]] = {}  # alert_id -> latest message map
        self.collectors: dict[int, dict[str, Any]] = {}
        for _ in range(collectors):
            self.add_collector()
        seed_records(self.add_message, messages, malformed)

    def _ts(self, stream: str) -> int:
        b = self.step(stream)
        return T0_MS + b * 60_000 + (b * 13) % 1000

    def _message_id(self) -> str:
        self.next_message_id += self.rng.randrange(1, 1000)
        return str(self.next_message_id)

    def _map(self, alert: dict[str, Any], when: int) -> dict[str, Any]:
        raw = json.dumps(alert, separators=(",", ":"))
        return {
            "_messageid": self._message_id(), "_messagetime": str(when), "_receipttime": str(when + self.rng.randrange(50, 5000)),
            "_raw": raw, "_sourcehost": "siem-forwarder-01", "_sourcename": "/var/log/alerts/alerts.json",
            "_sourcecategory": "security/alerts", "_collector": "siem-forwarder-01", "_source": "alerts-json",
            "_size": str(len(raw)), "_format": "t:cache:o:0:l:0:p:null", "_view": "", "_blockid": str(self.rng.getrandbits(60)),
            "_messagecount": str(self.rng.randrange(1, 100000)),
            **{k: ("" if v is None else str(v)) for k, v in alert.items()},
        }

    def add_message(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        when = self._ts("messages")
        title, severity, tactic, technique = rng.choice(ALERTS)
        host = f"{rng.choice(['web', 'db', 'wks'])}-{rng.randrange(1, 300):03d}"
        user = rng.choice(["alice", "bob", "carol", "svc_ci"])
        alert = {"alert_id": f"ALR-{len(self.messages) + 1:06d}-{rng.randrange(1000, 9999)}",
                 "title": title.format(host=host, user=user), "severity": severity, "status": rng.choice(STATUSES),
                 "rule_name": title.replace(" {host}", "").replace(" {user}", "").removesuffix(" on").removesuffix(" by")
                 .removesuffix(" for user").removesuffix(" from"), "device_hostname": host, "user": user,
                 "tactic": tactic, "technique": technique}
        if malformed:
            alert["severity"] = "sev-unknown"  # not a severity: fails mapping
            self.malformed["messages"] += 1
        msg = self._map(alert, when)
        self.messages[alert["alert_id"]] = msg
        return msg

    def add_collector(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        seen = self._ts("collectors")
        cid = 100_000_000 + len(self.collectors) * 13 + rng.randrange(0, 13)
        installable = rng.random() < 0.7
        name = f"{rng.choice(['web', 'db', 'app', 'k8s'])}-{len(self.collectors):04d}"
        col = {
            "id": cid, "name": name, "description": f"Collector on {name}",
            "collectorType": "Installable" if installable else "Hosted", "category": rng.choice(["prod/linux", "prod/windows", "cloud/aws"]),
            "timeZone": "UTC", "fields": {"environment": "prod"}, "links": [{"rel": "sources", "href": f"/v1/collectors/{cid}/sources"}],
            "ephemeral": False, "sourceSyncMode": "UI", "cutoffTimestamp": 0, "alive": rng.random() < 0.85,
            "lastSeenAlive": seen,
        }
        if installable:
            col.update(collectorVersion=f"19.{rng.randrange(300, 500)}-{rng.randrange(1, 30)}", hostName=f"{name}.corp.example.com",
                       osName=rng.choice(["Linux", "Windows Server 2019"]), osVersion=rng.choice(["5.15.0-1051-aws", "10.0"]),
                       osArch="amd64", osTime=seen, targetCpu=-1)
        if malformed:
            col["name"] = None  # a collector without a name: fails mapping
            self.malformed["collectors"] += 1
        self.collectors[cid] = col
        return col

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "collectors":
            oldest = sorted(self.collectors.values(), key=lambda c: (c["lastSeenAlive"], c["id"]))[:count]
            for c in oldest:
                c["lastSeenAlive"] = self._ts("collectors")
                c["alive"] = not c["alive"]
            return [str(c["id"]) for c in oldest]
        oldest = sorted(self.messages.values(), key=lambda m: (int(m["_messagetime"]), m["_messageid"]))[:count]
        for m in oldest:
            alert = json.loads(m["_raw"])
            alert["status"] = "closed" if alert["status"] != "closed" else "in_progress"
            self.messages[alert["alert_id"]] = self._map(alert, self._ts("messages"))
        return [json.loads(m["_raw"])["alert_id"] for m in oldest]


class SumoSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, messages: int | None = None,
                 collectors: int | None = None, malformed: int = 0, per_timestamp: int = 2,
                 access_id: str = DEMO_ACCESS_ID, access_key: str = DEMO_ACCESS_KEY, rate_limit: int = 240,
                 rate_window_seconds: float = 60.0, **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, messages=messages, collectors=collectors),
                            malformed=malformed, per_timestamp=per_timestamp)
        self.access_id, self.access_key = access_id, access_key
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = SumoData(**self.options)
        self.jobs: dict[str, dict[str, Any]] = {}

    def guard(self, request: Request, route: str) -> Response | None:
        gate = self.control.admit(request, route=route)
        if gate.status == 429:
            return _err(429, "rate.limit.exceeded", "Rate limit exceeded.", {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return _err(gate.status, "internal.error" if gate.status == 500 else "service.unavailable",
                        "Internal server error." if gate.status == 500 else "Service is temporarily unavailable.")
        if basic_credentials(request) != (self.access_id, self.access_key):
            return _err(401, "unauthorized", "Credential could not be verified.")
        return None

    @staticmethod
    def _time(value: Any) -> int:
        if isinstance(value, (int, float)):
            return int(value)
        value = str(value)
        if value.lstrip("-").isdigit():
            return int(value)
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)  # the simulator only knows timeZone UTC
        return int(dt.timestamp() * 1000)

    async def create_job(self, request: Request) -> Response:
        if denied := self.guard(request, "/api/v1/search/jobs"):
            return denied
        try:
            body = await request.json()
            query = body["query"]
            start, end = self._time(body["from"]), self._time(body["to"])
        except (ValueError, KeyError, TypeError):
            return _err(400, "searchjob.invalid.request", "The request must contain query, from and to.")
        if not str(query).strip():
            return _err(400, "searchjob.query.empty", "The query must not be empty.")
        rows = [dict(m) for m in self.data.messages.values() if start <= int(m["_messagetime"]) <= end]
        rows.sort(key=lambda m: (-int(m["_messagetime"]), m["_messageid"]))  # newest first
        job_id = uuid.uuid4().hex[:16].upper()
        self.jobs[job_id] = {"rows": rows, "polls": 0}
        resp = JSONResponse({"id": job_id, "link": {"rel": "self", "href": f"{request.base_url}api/v1/search/jobs/{job_id}"}},
                            status_code=202)
        resp.set_cookie("JSESSIONID", uuid.uuid4().hex, path="/api", httponly=True)
        return resp

    def _job(self, request: Request) -> dict[str, Any] | None:
        return self.jobs.get(request.path_params["job_id"])

    async def job_status(self, request: Request) -> Response:
        if denied := self.guard(request, "/api/v1/search/jobs/{job_id}"):
            return denied
        job = self._job(request)
        if job is None:
            return _err(404, "jobid.invalid", "Job ID is invalid.")
        if request.method == "DELETE":
            self.jobs.pop(request.path_params["job_id"], None)
            return JSONResponse({"id": request.path_params["job_id"]})
        job["polls"] += 1
        done = job["polls"] > 1  # the first poll sees the job still gathering
        n = len(job["rows"])
        return JSONResponse({"state": "DONE GATHERING RESULTS" if done else "GATHERING RESULTS",
                             "messageCount": n if done else n // 2, "recordCount": 0, "pendingWarnings": [],
                             "pendingErrors": [], "histogramBuckets": [{"length": 60000, "count": n, "startTimestamp": T0_MS}],
                             "usageDetails": {"dataScannedInBytes": 1024 * n}})

    async def messages(self, request: Request) -> Response:
        if denied := self.guard(request, "/api/v1/search/jobs/{job_id}/messages"):
            return denied
        job = self._job(request)
        if job is None:
            return _err(404, "jobid.invalid", "Job ID is invalid.")
        try:
            offset, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
        except (KeyError, ValueError):
            return _err(400, "searchjob.offset.limit", "offset and limit are required integers.")
        if not 0 < limit <= 10000:
            return _err(400, "searchjob.limit.too.large", "The limit must be between 1 and 10000.")
        rows = job["rows"][offset:offset + limit]
        names = sorted({k for r in rows for k in r})
        fields = [{"name": n, "fieldType": "long" if n in ("_messageid", "_messagetime", "_receipttime", "_size",
                                                            "_messagecount", "_blockid") else "string",
                   "keyField": False} for n in names]
        return JSONResponse({"fields": fields, "messages": [{"map": r} for r in rows]})

    async def collectors(self, request: Request) -> Response:
        if denied := self.guard(request, "/api/v1/collectors"):
            return denied
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = int(request.query_params.get("limit", "1000"))
        except ValueError:
            return _err(400, "invalid.parameter", "offset and limit must be integers.")
        rows = sorted(self.data.collectors.values(), key=lambda c: c["id"])[offset:offset + limit]
        return JSONResponse({"collectors": rows})

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {"messages": Stream(d.messages, d.malformed["messages"], d.add_message, partial(d.touch, "messages"),
                                   id_field="alert_id"),
                "collectors": Stream(d.collectors, d.malformed["collectors"], d.add_collector,
                                     partial(d.touch, "collectors"))}

    def counters(self) -> dict[str, Any]:
        return {"jobs": len(self.jobs)}

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/search/jobs", self.create_job, methods=["POST"]),
            Route("/api/v1/search/jobs/{job_id}", self.job_status, methods=["GET", "DELETE"]),
            Route("/api/v1/search/jobs/{job_id}/messages", self.messages, methods=["GET"]),
            Route("/api/v1/collectors", self.collectors, methods=["GET"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (both streams), messages, collectors, malformed, per_timestamp, access_id,
    access_key, rate_limit (requests per window, default 240/min), rate_window_seconds."""
    return SumoSimulator(**options).app()


__all__ = ["create_app"]
