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

The simulator evaluates no query language: every search returns the stored messages whose
``_messagetime`` lies in ``[from, to]``. Messages and collectors are the corpus's recorded ones
(``corpus/messages``: plain log messages, no parsed alert fields; ``corpus/collectors``), copied
with new ids and times (every collector with a ``lastSeenAlive``, which the List Collectors example
leaves out). An updated message is re-indexed with a newer ``_messagetime`` (same ``_messageid``).
Demo credentials: ``suDemoAccessId01`` / ``demo-sumo-access-key-0123456789``.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timezone
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, basic_credentials, record_counts, seed_records

DEMO_ACCESS_ID = "suDemoAccessId01"
DEMO_ACCESS_KEY = "demo-sumo-access-key-0123456789"
T0_MS = int(datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp() * 1000)
# fieldType of the built-in message fields, as the Search Job API page's result document lists them
FIELD_TYPES = {"_messageid": "long", "_sourceid": "long", "_size": "long", "_messagetime": "long", "_receipttime": "long",
               "_messagecount": "int", "_collectorid": "long", "_blockid": "long"}


def _err(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"status": status, "id": uuid.uuid4().hex[:5].upper() + "-" + uuid.uuid4().hex[:5].upper(),
                         "code": code, "message": message}, status_code=status, headers=headers)


class SumoData(SeededData):
    """Messages and collectors by the simulator's own key (position; collectors by id). Seeded records
    are the corpus's recorded ones (``records_for``) in turn, copied with new ids and times; ``replay``
    holds exactly the given records instead."""

    def __init__(self, seed: int, messages: int, collectors: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.next_message_id = -9_000_000_000_000_000_000 + seed * 1_000_000
        self.messages: dict[str, dict[str, Any]] = {}  # own key -> message map
        self.collectors: dict[int, dict[str, Any]] = {}
        if replay is not None:
            for message in replay.get("messages", []):
                self.messages[str(len(self.messages))] = copy.deepcopy(message["map"])
            for collector in replay.get("collectors", []):
                self.collectors[collector["id"]] = copy.deepcopy(collector)
            return
        self.message_templates = [m["map"] for m in records_for("sumo_logic", "messages")]
        self.collector_templates = records_for("sumo_logic", "collectors")
        for _ in range(collectors):
            self.add_collector()
        seed_records(self.add_message, messages, malformed)

    def _ts(self, stream: str) -> int:
        b = self.step(stream)
        return T0_MS + b * 60_000 + (b * 13) % 1000

    def _message_id(self) -> str:
        self.next_message_id += self.rng.randrange(1, 1000)
        return str(self.next_message_id)

    def add_message(self, malformed: bool = False) -> dict[str, Any]:
        n = len(self.messages)
        msg = copy.deepcopy(self.message_templates[n % len(self.message_templates)])
        when = self._ts("messages")
        msg.update(_messageid=self._message_id(), _messagetime=str(when),
                   _receipttime=str(when + self.rng.randrange(50, 5000)))
        if malformed:
            msg["severity"] = "sev-unknown"  # a parsed severity that is none: fails mapping
            self.malformed["messages"] += 1
        self.messages[str(n)] = msg
        return msg

    def add_collector(self, malformed: bool = False) -> dict[str, Any]:
        n = len(self.collectors)
        col = copy.deepcopy(self.collector_templates[n % len(self.collector_templates)])
        cid = 100_000_000 + n * 13 + self.rng.randrange(0, 13)
        col.update(id=cid, name=f"{col['name']}-{n:04d}", alive=self.rng.random() < 0.85,
                   # the List Collectors example leaves it out; the recorded app collector shows it
                   lastSeenAlive=self._ts("collectors"))
        for link in col.get("links") or []:
            link["href"] = f"/v1/collectors/{cid}/sources"
        if malformed:
            col["name"] = None  # a collector without a name: fails mapping
            self.malformed["collectors"] += 1
        self.collectors[cid] = col
        return col

    def touch(self, stream: str, count: int) -> list[str]:
        """A collector's heartbeat moves lastSeenAlive; a message is re-indexed (same _messageid, a newer
        _messagetime, as a corrected timestamp would be)."""
        if stream == "collectors":
            oldest = sorted(self.collectors.values(), key=lambda c: (c["lastSeenAlive"], c["id"]))[:count]
            for c in oldest:
                c["lastSeenAlive"] = self._ts("collectors")
                c["alive"] = not c["alive"]
            return [str(c["id"]) for c in oldest]
        oldest = sorted(self.messages.values(), key=lambda m: (int(m["_messagetime"]), m["_messageid"]))[:count]
        for m in oldest:
            when = self._ts("messages")
            m.update(_messagetime=str(when), _receipttime=str(when + self.rng.randrange(50, 5000)))
        return [m["_messageid"] for m in oldest]


class SumoSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, messages: int | None = None,
                 collectors: int | None = None, malformed: int = 0, per_timestamp: int = 2,
                 access_id: str = DEMO_ACCESS_ID, access_key: str = DEMO_ACCESS_KEY, rate_limit: int = 240,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None,
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, messages=messages, collectors=collectors),
                            malformed=malformed, per_timestamp=per_timestamp, replay=replay)
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
        fields = [{"name": n, "fieldType": FIELD_TYPES.get(n, "string"), "keyField": False} for n in names]
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
                                   id_field="_messageid"),
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
    access_key, rate_limit (requests per window, default 240/min), rate_window_seconds, replay ({stream: [real
    records]}: messages as ``{"map": ...}`` and collectors as listed, instead of seeded ones)."""
    return SumoSimulator(**options).app()


__all__ = ["create_app"]
