"""Simulator of the Splunk REST search API subset the connector uses, serving Splunk
Enterprise Security notable events.

Faithful to the public documentation:

* Search jobs - https://docs.splunk.com/Documentation/Splunk/latest/RESTREF/RESTsearch#search.2Fjobs :
  ``POST /services/search/jobs`` (form-encoded ``search`` - must start with ``search`` or
  ``|`` - ``earliest_time``, ``latest_time``, ``exec_mode``, ``output_mode``) -> 201
  ``{"sid": "..."}``; ``GET /services/search/jobs/{sid}?output_mode=json`` -> ``{"entry":
  [{"name": sid, "content": {"dispatchState": QUEUED|PARSING|RUNNING|FINALIZING|DONE|FAILED,
  "isDone", "isFailed", "doneProgress", "resultCount", "eventCount", "ttl", ...}}]}``; an
  unknown or expired sid is 404.
* Results - https://docs.splunk.com/Documentation/Splunk/latest/RESTREF/RESTsearch#search.2Fjobs.2F.7Bsearch_id.7D.2Fresults :
  ``GET /services/search/jobs/{sid}/results?output_mode=json&offset=&count=`` (count default
  100, 0 = all) -> ``{"preview": false, "init_offset", "messages": [], "fields": [{"name"}],
  "results": [...]}``; values are strings; results come newest first.
* Time modifiers - https://docs.splunk.com/Documentation/Splunk/latest/SearchReference/SearchTimeModifiers :
  ``earliest_time`` inclusive, ``latest_time`` exclusive; epoch seconds, ISO-8601, ``now``,
  ``0`` and relative ``-<n><s|m|h|d>[@d]`` are understood here.
* Auth - https://docs.splunk.com/Documentation/Splunk/latest/Security/UseAuthTokens :
  ``Authorization: Bearer <token>`` (and ``Splunk <session key>`` / basic); failures are
  401 ``{"messages": [{"type": "WARN", "text": "call not properly authenticated"}]}``.
* Notable events - https://docs.splunk.com/Documentation/ES/latest/User/Triagenotableevents and
  https://docs.splunk.com/Documentation/ES/latest/User/Howurgencyisassigned : fields
  ``event_id``, ``rule_name``, ``rule_title``, ``rule_description``, ``search_name``,
  ``security_domain``, ``urgency`` (informational|low|medium|high|critical), ``status``
  (0..5) with ``status_label`` (Unassigned|New|In Progress|Pending|Resolved|Closed),
  ``owner``, ``src``, ``dest``, ``user``, ``_time`` (``2024-05-01T00:01:00.000+00:00``).

* HTTP Event Collector - https://docs.splunk.com/Documentation/Splunk/latest/Data/FormateventsforHTTPEventCollector
  and https://docs.splunk.com/Documentation/Splunk/latest/Data/TroubleshootHTTPEventCollector :
  ``POST /services/collector/event`` with ``Authorization: Splunk <HEC token>``, a body of one or
  more concatenated JSON objects ``{"time", "host", "source", "sourcetype", "index", "event",
  "fields"}`` (``event`` required) -> ``{"text": "Success", "code": 0}``; errors ``{"text",
  "code"}``: 401 code 2 "Token is required" / code 3 "Invalid authorization", 403 code 4 "Invalid
  token", 400 code 5 "No data" / code 6 "Invalid data format" / code 12 "Event field is
  required" (with ``invalid-event-number``), 503 code 9 "Server is busy". HEC has no
  de-duplication. Demo HEC token ``11111111-2222-4333-8444-555555555555``.

The simulator does not evaluate SPL: every search returns the notable view (one row per
``event_id``, its latest status). An "updated" record is a notable whose status changed
and that was re-emitted with a newer ``_time``. Also ``/services/authentication/current-context``
and ``/services/server/health/splunkd``. Demo token: ``demo-splunk-token-0123456789``; demo
basic credentials ``aria`` / ``demo-splunk-password``.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_TOKEN = "demo-splunk-token-0123456789"
DEMO_USERNAME = "aria"
DEMO_PASSWORD = "demo-splunk-password"
DEMO_HEC_TOKEN = "11111111-2222-4333-8444-555555555555"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
RULES = [
    ("Access - Brute Force Access Behavior Detected - Rule", "Brute Force Access Behavior Detected", "access", "medium"),
    ("Endpoint - Malware Detected - Rule", "Malware Detected on {dest}", "endpoint", "high"),
    ("Network - Unroutable Host Activity - Rule", "Unroutable Host Activity", "network", "low"),
    ("Threat - Threat Intelligence Match - Rule", "Threat Activity Detected ({src})", "threat", "critical"),
    ("Identity - Excessive Failed Logins - Rule", "Excessive Failed Logins by {user}", "identity", "medium"),
    ("Audit - Anomalous Audit Trail Activity Detected - Rule", "Anomalous Audit Trail Activity", "audit", "informational"),
]
STATUS_LABELS = {"0": "Unassigned", "1": "New", "2": "In Progress", "3": "Pending", "4": "Resolved", "5": "Closed"}


def splunk_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


def parse_time(value: str | None, now: float) -> float | None:
    if value is None or value == "":
        return None
    v = value.strip()
    if v == "now":
        return now
    try:
        return float(v)
    except ValueError:
        pass
    m = re.fullmatch(r"-(\d+)([smhd])(@d)?", v)
    if m:
        secs = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        t = now - secs
        return t - (t % 86400) if m.group(3) else t
    try:
        return datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"Invalid time modifier {value!r}") from None


class SplunkData(SeededData):
    def __init__(self, seed: int, notables: int, malformed: int = 0, per_timestamp: int = 2) -> None:
        super().__init__(seed, per_timestamp)
        self.notables: dict[str, dict[str, Any]] = {}
        seed_records(self.add, notables, malformed)

    def _ts(self) -> datetime:
        bucket = self.step()
        return T0 + timedelta(minutes=bucket, milliseconds=(bucket * 131) % 1000)

    def add(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        when = self._ts()
        rule_name, title, domain, urgency = rng.choice(RULES)
        src = f"203.0.113.{rng.randrange(1, 255)}"
        dest = f"{rng.choice(['web', 'db', 'wks', 'dc'])}-{rng.randrange(1, 400):03d}.corp.example.com"
        user = rng.choice(["alice", "bob", "carol", "svc_backup", "administrator"])
        search_id = f"scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5{uuid.UUID(int=rng.getrandbits(128)).hex[:16]}_at_{int(when.timestamp())}_{rng.randrange(1000, 9999)}"
        status = rng.choice(["1", "1", "2", "3", "5"])
        notable = {
            "_time": splunk_time(when),
            "event_id": f"{uuid.UUID(int=rng.getrandbits(128)).hex.upper()[:8]}-{len(self.notables):06d}@@notable@@{uuid.UUID(int=rng.getrandbits(128)).hex}",
            "rule_name": rule_name.replace(" - Rule", ""),
            "rule_title": title.format(dest=dest, src=src, user=user),
            "rule_description": f"{title.split(' ({')[0]} - triggered by correlation search.",
            "rule_id": f"{search_id}@@notable@@{rng.getrandbits(64):x}",
            "search_name": rule_name,
            "security_domain": domain,
            "urgency": urgency,
            "severity": {"informational": "informational", "low": "low", "medium": "medium", "high": "high", "critical": "critical"}[urgency],
            "status": status,
            "status_label": STATUS_LABELS[status],
            "status_group": "Open" if status in ("0", "1", "2", "3") else "Closed",
            "owner": rng.choice(["unassigned", "analyst1", "analyst2"]),
            "src": src,
            "dest": dest,
            "user": user,
            "orig_time": str(int(when.timestamp())),
            "drilldown_search": f"| from datamodel:\"Authentication\".\"Failed_Authentication\" | search src=\"{src}\"",
            "_raw": f"{int(when.timestamp())}, search_name=\"{rule_name}\", src=\"{src}\", dest=\"{dest}\", user=\"{user}\"",
            "index": "notable",
            "sourcetype": "stash",
            "source": rule_name,
            "host": "es-search-head-01",
        }
        if malformed:
            notable["urgency"] = "bogus"  # not an ES urgency: fails mapping
            self.malformed["notables"] += 1
        self.notables[notable["event_id"]] = notable
        return notable

    def touch(self, count: int) -> list[str]:
        oldest = sorted(self.notables.values(), key=lambda n: (n["_time"], n["event_id"]))[:count]
        for n in oldest:
            n["_time"] = splunk_time(self._ts())
            n["status"] = "5" if n["status"] != "5" else "2"
            n["status_label"] = STATUS_LABELS[n["status"]]
            n["status_group"] = "Closed" if n["status"] in ("4", "5") else "Open"
        return [n["event_id"] for n in oldest]


class SplunkSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, notables: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, token: str = DEMO_TOKEN, username: str = DEMO_USERNAME,
                 password: str = DEMO_PASSWORD, hec_token: str = DEMO_HEC_TOKEN, rate_limit: int = 100000,
                 rate_window_seconds: float = 60.0, **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, notables=notables), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.token, self.username, self.password, self.hec_token = token, username, password, hec_token
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = SplunkData(**self.options)
        self.jobs: dict[str, dict[str, Any]] = {}
        self.hec_events: list[dict[str, Any]] = []

    @staticmethod
    def error(status: int, text: str, headers: dict[str, str] | None = None, kind: str = "ERROR") -> JSONResponse:
        return JSONResponse({"messages": [{"type": kind, "text": text}]}, status_code=status, headers=headers)

    def guard(self, request: Request, route: str) -> JSONResponse | None:
        gate = self.control.admit(request, route=route)
        if gate.exhausted:
            return self.error(503, "Search not executed: The maximum number of concurrent historical searches has been reached.",
                              {"Retry-After": str(gate.retry_after)})
        if gate.status == 429:
            return self.error(429, "Too many requests", {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return self.error(gate.status, "Internal server error" if gate.status == 500 else "Service unavailable")
        value = request.headers.get("authorization", "")
        basic = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if value not in (f"Bearer {self.token}", f"Splunk {self.token}", basic):
            return self.error(401, "call not properly authenticated", kind="WARN")
        return None

    async def current_context(self, request: Request) -> Response:
        if denied := self.guard(request, "/services/authentication/current-context"):
            return denied
        return JSONResponse({"entry": [{"name": "aria", "content": {"username": "aria", "roles": ["ess_analyst", "user"],
                                                                    "capabilities": ["search", "rest_properties_get"]}}]})

    async def health(self, request: Request) -> Response:
        if denied := self.guard(request, "/services/server/health/splunkd"):
            return denied
        return JSONResponse({"entry": [{"name": "splunkd", "content": {"health": "green", "features": {}}}]})

    async def create_job(self, request: Request) -> Response:
        if denied := self.guard(request, "/services/search/jobs"):
            return denied
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        search = form.get("search", "").strip()
        if not search.startswith(("search", "|")):
            return self.error(400, "Search must start with 'search' or '|'." if search else "Missing search parameter.")
        now = time.time()
        try:
            earliest = parse_time(form.get("earliest_time"), now)
            latest = parse_time(form.get("latest_time"), now)
        except ValueError as exc:
            return self.error(400, str(exc))
        rows = []
        for n in self.data.notables.values():
            t = datetime.fromisoformat(n["_time"]).timestamp()
            if (earliest is None or t >= earliest) and (latest is None or t < latest):
                rows.append(dict(n))
        rows.sort(key=lambda n: (n["_time"], n["event_id"]), reverse=True)  # newest first, like Splunk
        sid = f"{now:.3f}_{uuid.uuid4().hex[:8].upper()}"
        self.jobs[sid] = {"rows": rows, "polls": 0, "search": search, "earliest": form.get("earliest_time"),
                          "latest": form.get("latest_time")}
        return JSONResponse({"sid": sid}, status_code=201)

    async def job(self, request: Request) -> Response:
        if denied := self.guard(request, "/services/search/jobs/{sid}"):
            return denied
        sid = request.path_params["sid"]
        job = self.jobs.get(sid)
        if job is None:
            return self.error(404, "Unknown sid.")
        job["polls"] += 1
        done = job["polls"] > 1  # the first poll sees the job RUNNING
        n = len(job["rows"])
        return JSONResponse({"links": {}, "origin": f"{request.base_url}services/search/jobs", "entry": [{
            "name": sid, "id": f"{request.base_url}services/search/jobs/{sid}",
            "content": {"sid": sid, "dispatchState": "DONE" if done else "RUNNING", "isDone": done, "isFailed": False,
                        "isFinalized": False, "doneProgress": 1.0 if done else 0.5, "eventCount": n,
                        "resultCount": n if done else n // 2, "scanCount": n, "ttl": 600,
                        "earliestTime": job["earliest"], "latestTime": job["latest"], "eventSearch": job["search"],
                        "messages": {}}}]})

    async def results(self, request: Request) -> Response:
        if denied := self.guard(request, "/services/search/jobs/{sid}/results"):
            return denied
        job = self.jobs.get(request.path_params["sid"])
        if job is None:
            return self.error(404, "Unknown sid.")
        if job["polls"] < 2:
            return Response(status_code=204)  # results not ready yet
        q = request.query_params
        try:
            offset, count = int(q.get("offset", "0")), int(q.get("count", "100"))
        except ValueError:
            return self.error(400, "offset and count must be integers")
        rows = job["rows"][offset:] if count == 0 else job["rows"][offset:offset + count]
        fields = sorted({k for r in rows for k in r})
        if q.get("output_mode") != "json":
            return self.error(400, "This simulator serves output_mode=json only")
        return JSONResponse({"preview": False, "init_offset": offset, "messages": [],
                             "fields": [{"name": f} for f in fields], "results": rows, "highlighted": {}})

    @staticmethod
    def hec_reply(status: int, text: str, code: int, headers: dict[str, str] | None = None,
                  **extra: Any) -> JSONResponse:
        return JSONResponse({"text": text, "code": code, **extra}, status_code=status, headers=headers)

    async def hec_event(self, request: Request) -> Response:
        gate = self.control.admit(request)
        if gate.status == 429:
            return self.hec_reply(429, "Too many requests", 9, {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return self.hec_reply(gate.status, "Server is busy" if gate.status == 503 else "Internal server error",
                                  9 if gate.status == 503 else 8)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token:
            return self.hec_reply(401, "Token is required", 2)
        if scheme != "Splunk":
            return self.hec_reply(401, "Invalid authorization", 3)
        if token != self.hec_token:
            return self.hec_reply(403, "Invalid token", 4)
        raw = (await request.body()).decode("utf-8", "replace").strip()
        if not raw:
            return self.hec_reply(400, "No data", 5)
        events, decoder, pos = [], json.JSONDecoder(), 0
        while pos < len(raw):  # one or more concatenated JSON objects
            try:
                obj, end = decoder.raw_decode(raw, pos)
            except ValueError:
                return self.hec_reply(400, "Invalid data format", 6, **{"invalid-event-number": len(events)})
            if not isinstance(obj, dict) or obj.get("event") in (None, ""):
                return self.hec_reply(400, "Event field is required", 12, **{"invalid-event-number": len(events)})
            events.append(obj)
            pos = end
            while pos < len(raw) and raw[pos].isspace():
                pos += 1
        self.hec_events.extend(events)
        fault = self.control.take_write_fault()
        if fault is not None:
            return self.hec_reply(fault.status, "Server is busy", 9)
        return self.hec_reply(200, "Success", 0)

    # -- control ------------------------------------------------------------------------------

    def streams(self) -> dict[str, Stream]:
        return {"notables": Stream(self.data.notables, self.data.malformed["notables"], self.data.add, self.data.touch,
                                   id_field="event_id")}

    def counters(self) -> dict[str, Any]:
        return {"jobs": len(self.jobs), "created": len(self.hec_events)}

    def routes(self) -> list[Route]:
        return [
            Route("/services/authentication/current-context", self.current_context, methods=["GET"]),
            Route("/services/server/health/splunkd", self.health, methods=["GET"]),
            Route("/services/search/jobs", self.create_job, methods=["POST"]),
            Route("/services/search/jobs/{sid}", self.job, methods=["GET"]),
            Route("/services/search/jobs/{sid}/results", self.results, methods=["GET"]),
            Route("/services/collector/event", self.hec_event, methods=["POST"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / notables, malformed, per_timestamp, token, username, password, hec_token,
    rate_limit, rate_window_seconds."""
    return SplunkSimulator(**options).app()
