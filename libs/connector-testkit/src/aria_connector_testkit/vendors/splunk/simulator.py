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
  100, 0 = all) -> ``{"preview": false, "init_offset", "post_process_count", "messages": [],
  "results": [...]}`` (the envelope splunkd 9 answers, see the corpus); values are strings or
  lists of strings (multi-value fields); results come newest first.
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
  ``owner``, ``src``, ``dest``, ``user``, ``_time`` (``2024-05-01T00:01:00.000+00:00``). Rows of a
  plain ``index=notable`` search carry only index fields (``_bkt``, ``_cd``, ``_time``, ``source``,
  ``_raw``, ...). The rows served are the corpus's recorded rows (``corpus/notables``), copied
  with new ids, times and hosts.

* HTTP Event Collector - https://docs.splunk.com/Documentation/Splunk/latest/Data/FormateventsforHTTPEventCollector
  and https://docs.splunk.com/Documentation/Splunk/latest/Data/TroubleshootHTTPEventCollector :
  ``POST /services/collector/event`` with ``Authorization: Splunk <HEC token>``, a body of one or
  more concatenated JSON objects ``{"time", "host", "source", "sourcetype", "index", "event",
  "fields"}`` (``event`` required) -> ``{"text": "Success", "code": 0}``; errors ``{"text",
  "code"}``: 401 code 2 "Token is required" / code 3 "Invalid authorization", 403 code 4 "Invalid
  token", 400 code 5 "No data" / code 6 "Invalid data format" / code 12 "Event field is
  required" (with ``invalid-event-number``), 503 code 9 "Server is busy". HEC has no
  de-duplication. Demo HEC token ``11111111-2222-4333-8444-555555555555``.

The simulator does not evaluate SPL: every search returns the stored rows (one per notable,
its latest status). An "updated" record is a macro row whose review status changed and that
was re-emitted with a newer ``_time``. Also ``/services/authentication/current-context``
and ``/services/server/health/splunkd``. Demo token: ``demo-splunk-token-0123456789``; demo
basic credentials ``aria`` / ``demo-splunk-password``.
"""

from __future__ import annotations

import base64
import copy
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

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_TOKEN = "demo-splunk-token-0123456789"
DEMO_USERNAME = "aria"
DEMO_PASSWORD = "demo-splunk-password"
DEMO_HEC_TOKEN = "11111111-2222-4333-8444-555555555555"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STATUS_LABELS = {"0": "Unassigned", "1": "New", "2": "In Progress", "3": "Pending", "4": "Resolved", "5": "Closed"}


def splunk_time(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


def row_time(row: dict[str, Any]) -> float:
    """A row's ``_time`` (ISO 8601 with the search head's offset, e.g. ``-07:00``) in epoch seconds."""
    return datetime.fromisoformat(row["_time"]).timestamp()


def row_order(row: dict[str, Any]) -> tuple[float, str]:
    """Rows by time; ``_cd`` (bucket:offset) orders rows of one second, as in the index."""
    return row_time(row), str(row.get("event_id") or row.get("_cd") or "")


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


def notable_id(row: dict[str, Any]) -> str:
    """The id a row is known by (the connector's identity): ``event_id``, else its index address."""
    return str(row.get("event_id") or f"{row['_bkt']}:{row['_cd']}:{row['_time']}")


class SplunkData(SeededData):
    """Notable rows by the simulator's own key (their position): real rows may lack ``event_id``
    (a plain ``index=notable`` search), so nothing here relies on it. Seeded rows are the corpus's
    recorded rows (``records_for``) in turn, each a copy with new ids, times and hosts; ``replay``
    holds exactly the given rows (in order) instead."""

    def __init__(self, seed: int, notables: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: list[dict[str, Any]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.notables: dict[str, dict[str, Any]] = {}
        if replay is not None:
            for row in replay:
                self.notables[str(len(self.notables))] = copy.deepcopy(row)
        else:
            self.templates = records_for("splunk", "notables")
            seed_records(self.add, notables, malformed)

    def _ts(self) -> datetime:
        bucket = self.step()
        return T0 + timedelta(minutes=bucket, milliseconds=(bucket * 131) % 1000)

    def add(self, malformed: bool = False) -> dict[str, Any]:
        rng, n = self.rng, len(self.notables)
        when = self._ts()
        row = copy.deepcopy(self.templates[n % len(self.templates)])
        epoch = str(int(when.timestamp()))
        row["_time"] = splunk_time(when)
        if "event_id" in row:  # a notable-macro row: a new event hash under the same indexer
            guid = row.get("indexer_guid") or row["event_id"].split("@@")[0]
            event_hash = uuid.UUID(int=rng.getrandbits(128)).hex
            row["event_id"] = f"{guid}@@notable@@{event_hash}"
            for field, value in (("event_hash", event_hash), ("rule_id", row["event_id"])):
                if field in row:
                    row[field] = value
        if "_cd" in row:  # the event's offset in its bucket
            row["_cd"] = f"{row['_bkt'].split('~')[1]}:{10_000 + n * 7 + rng.randrange(7)}"
        for field in ("_indextime", "orig_time"):
            if field in row:
                row[field] = epoch
        if "dest" in row:
            row["dest"] = f"{rng.choice(['web', 'db', 'wks', 'dc'])}-{rng.randrange(1, 400):03d}.corp.example.com"
        if "user" in row:
            row["user"] = rng.choice(["alice", "bob", "carol", "svc_backup", "administrator"])
        if malformed:
            row["urgency"] = "bogus"  # not an ES urgency: fails mapping
            self.malformed["notables"] += 1
        self.notables[str(n)] = row
        return row

    def touch(self, count: int) -> list[str]:
        """Re-stamps the oldest reviewable rows (those the notable macro returned, with a status) with a
        new review status; a raw index row has no review state to change."""
        reviewable = [r for r in self.notables.values() if "event_id" in r and "status" in r]
        oldest = sorted(reviewable, key=row_order)[:count]
        for n in oldest:
            n["_time"] = splunk_time(self._ts())
            n["status"] = "5" if n["status"] != "5" else "2"
            n["status_label"] = STATUS_LABELS[n["status"]]
            if "status_group" in n:
                n["status_group"] = "Closed" if n["status"] in ("4", "5") else "Open"
        return [notable_id(n) for n in oldest]


class SplunkSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, notables: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, token: str = DEMO_TOKEN, username: str = DEMO_USERNAME,
                 password: str = DEMO_PASSWORD, hec_token: str = DEMO_HEC_TOKEN, rate_limit: int = 100000,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None,
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, notables=notables), malformed=malformed,
                            per_timestamp=per_timestamp)
        if replay is not None:
            self.options["replay"] = list(replay.get("notables", []))
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
            t = row_time(n)
            if (earliest is None or t >= earliest) and (latest is None or t < latest):
                rows.append(dict(n))
        rows.sort(key=row_order, reverse=True)  # newest first, like Splunk
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
        if q.get("output_mode") != "json":
            return self.error(400, "This simulator serves output_mode=json only")
        return JSONResponse({"preview": False, "init_offset": offset, "post_process_count": 0, "messages": [],
                             "results": rows})

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
        return {"notables": Stream(self.data.notables, self.data.malformed["notables"], self.data.add, self.data.touch)}

    def add_records(self, stream: str, count: int, malformed: int, update: int) -> dict[str, Any]:
        """Ids of added rows as the connector knows them (event_id, or the index address)."""
        s = self.streams()[stream]
        added = [notable_id(s.add()) for _ in range(count)]
        added += [notable_id(s.add(malformed=True)) for _ in range(malformed)]
        return {"added": added, "updated": s.touch(update) if update else []}

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
    rate_limit, rate_window_seconds, replay ({"notables": [real rows]}: those rows instead of seeded ones)."""
    return SplunkSimulator(**options).app()
