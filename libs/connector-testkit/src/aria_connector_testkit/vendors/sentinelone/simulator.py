"""Simulator of the SentinelOne Management API v2.1 subset the connector uses.

Faithful to the public API reference (field names, nesting, enums, envelopes):

* API reference (tenant console ``/api-doc``, public mirror of the v2.1 schema):
  https://usea1-partners.sentinelone.net/api-doc/overview and the threat / agent objects as
  documented by integrators, e.g. https://docs.blinkops.com/docs/integrations/sentinelone/actions/get-threats
  and https://docs.swimlane.com/connectors/get-threats (full ``GET /web/api/v2.1/threats``
  parameter list: ``cursor``, ``limit`` 1..1000, ``sortBy``, ``sortOrder``,
  ``updatedAt__gt``/``__gte``/``__lt``/``__lte``, ``createdAt__*``, ``ids``, ``countOnly``).
* Auth: ``Authorization: ApiToken <token>`` (console: My User > API token); a bad token is
  ``401 {"errors": [{"code": 4010010, "detail": ..., "title": "Authentication Failed"}]}``.
* Envelope ``{"data": [...], "pagination": {"nextCursor": str, "totalItems": n}}`` (the last page's
  cursor is ``""`` as recorded, not the ``null`` the reference shows);
  the cursor is an opaque base64 keyset token ("use to iterate over more than 1000 items")
  and is only valid with the same filters and sort.
* ``GET /web/api/v2.1/threats``: threat objects with ``id`` and the nested
  ``threatInfo`` (threatName, classification, confidenceLevel malicious/suspicious/n/a,
  mitigationStatus, incidentStatus unresolved/in_progress/resolved, analystVerdict,
  sha1/sha256, filePath, createdAt/updatedAt/identifiedAt), ``agentRealtimeInfo``,
  ``agentDetectionInfo``, ``mitigationStatus`` (list of actions), ``indicators``,
  ``containerInfo``, ``kubernetesInfo``, ``whiteningOptions``. ``updatedAt__*`` filter
  ``threatInfo.updatedAt``.
* ``GET /web/api/v2.1/agents``: agent objects (id, uuid, computerName, osType
  windows/macos/linux, osName, osRevision, machineType, networkInterfaces[{inet, inet6,
  physical, name}], externalIp, networkStatus connected/disconnected, isActive, infected,
  registeredAt, lastActiveDate, createdAt, updatedAt, ...).
* ``GET /web/api/v2.1/system/info``: console build information (auth required).
* Rate limiting: 429 ``{"errors": [{"code": 4290010, "title": "Too Many Requests"}]}`` with
  ``Retry-After``.

Timestamps are ISO-8601 with microseconds and ``Z``. Demo token: ``demo-api-token``.
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_API_TOKEN = "demo-api-token"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
API = "/web/api/v2.1"

CONFIDENCE = ["malicious", "malicious", "suspicious"]
INCIDENT = ["unresolved", "unresolved", "in_progress", "resolved"]


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(value: str) -> datetime:
    v = value.strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(v)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _get(rec: dict[str, Any], path: str) -> Any:
    cur: Any = rec
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur




class S1Data(SeededData):
    """Deterministic tenant. ``per_timestamp`` records share one ``updatedAt``. Records are the
    recorded ones of the corpus (``records_for``) taken in turn, deep-copied, with ids, times, names
    and addresses varied: every field path and JSON type is one SentinelOne returned. ``replay``:
    exactly those records per stream, stored by ``id``, nothing seeded."""

    def __init__(self, seed: int, threats: int, agents: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.ids = 0
        self.agents: dict[str, dict[str, Any]] = {}
        self.threats: dict[str, dict[str, Any]] = {}
        if replay is not None:
            for stream, records in replay.items():
                getattr(self, stream).update((str(r["id"]), copy.deepcopy(r)) for r in records)
            return
        self.templates = {s: records_for("sentinelone", s) for s in ("threats", "agents")}
        for _ in range(max(agents, 1) if threats else agents):
            self.add_agent()
        seed_records(self.add_threat, threats, malformed)

    def _id(self) -> str:
        # SentinelOne ids are 18-19 digit numeric strings
        self.ids += 1
        return str(1_400_000_000_000_000_000 + self.ids * 7919 + self.rng.randrange(7000))

    def ts(self, stream: str) -> str:
        bucket = self.step(stream)
        return _iso(T0 + timedelta(minutes=bucket, microseconds=(bucket * 104729) % 10**6))

    def template(self, stream: str) -> dict[str, Any]:
        """The next recorded record of ``stream`` (in turn), as a copy to vary."""
        records = self.templates[stream]
        return copy.deepcopy(records[self.seq[stream] % len(records)])

    def add_agent(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        agent = self.template("agents")
        ts = self.ts("agents")
        agent_id = self._id()
        n = len(self.agents)
        registered = _iso(T0 - timedelta(days=rng.randrange(30, 500)))
        agent.update(id=agent_id, uuid=hashlib.md5(agent_id.encode()).hexdigest(), computerName=f"ws-{n:04d}",
                     externalIp=f"198.51.100.{rng.randrange(1, 255)}", registeredAt=registered, createdAt=registered,
                     lastActiveDate=ts, updatedAt=ts, networkStatus=rng.choice(["connected", "connected", "disconnected"]))
        for nic in agent.get("networkInterfaces") or []:
            if nic.get("inet"):
                nic["inet"] = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"]
            nic["physical"] = ":".join(f"{rng.randrange(256):02x}" for _ in range(6))
        if malformed:
            agent["computerName"] = None  # an asset needs a name
            self.malformed["agents"] += 1
        self.agents[agent_id] = agent
        return agent

    def add_threat(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        threat = self.template("threats")
        ts = self.ts("threats")
        if not self.agents:
            self.add_agent()
        agent = self.agents[sorted(self.agents)[rng.randrange(len(self.agents))]]
        threat_id = self._id()
        identified = _iso(_parse_iso(ts) - timedelta(seconds=rng.randrange(1, 600)))
        threat["id"] = threat_id
        threat["agentRealtimeInfo"].update(agentId=agent["id"], agentComputerName=agent["computerName"],
                                           agentUuid=agent["uuid"])
        info = threat["threatInfo"]
        status = rng.choice(INCIDENT)
        info.update(threatId=threat_id, updatedAt=ts, identifiedAt=identified, createdAt=identified,
                    confidenceLevel=rng.choice(CONFIDENCE), incidentStatus=status,
                    incidentStatusDescription=status.replace("_", " ").title(),
                    sha1=hashlib.sha1(threat_id.encode()).hexdigest())
        if malformed:
            info["confidenceLevel"] = "very-bad"  # not a SentinelOne enum value
            info["threatName"] = None
            self.malformed["threats"] += 1
        self.threats[threat_id] = threat
        return threat

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "threats":
            oldest = sorted(self.threats.values(), key=lambda r: (_parse_iso(r["threatInfo"]["updatedAt"]), r["id"]))
            out = []
            for t in oldest[:count]:
                info = t["threatInfo"]
                info["updatedAt"] = self.ts("threats")
                info["incidentStatus"] = "in_progress" if info["incidentStatus"] != "in_progress" else "resolved"
                info["incidentStatusDescription"] = info["incidentStatus"].replace("_", " ").title()
                out.append(t["id"])
            return out
        oldest = sorted(self.agents.values(), key=lambda r: (_parse_iso(r["updatedAt"]), r["id"]))
        out = []
        for a in oldest[:count]:
            a["updatedAt"] = a["lastActiveDate"] = self.ts("agents")
            a["networkStatus"] = "disconnected" if a["networkStatus"] == "connected" else "connected"
            out.append(a["id"])
        return out


class BadRequest(ValueError):
    pass


def _encode_cursor(payload: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _decode_cursor(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.b64decode(token.encode(), validate=True))
        assert isinstance(data, dict)
        return data
    except Exception:
        raise BadRequest("Invalid cursor") from None


# fields each list endpoint can sort/filter by -> record path
THREAT_FIELDS = {"updatedAt": "threatInfo.updatedAt", "createdAt": "threatInfo.createdAt", "id": "id",
                 "threatName": "threatInfo.threatName", "classification": "threatInfo.classification"}
AGENT_FIELDS = {"updatedAt": "updatedAt", "createdAt": "createdAt", "id": "id", "computerName": "computerName",
                "lastActiveDate": "lastActiveDate", "registeredAt": "registeredAt"}
DATE_FIELDS = {"updatedAt", "createdAt", "lastActiveDate", "registeredAt"}


def list_records(records: list[dict[str, Any]], query: Any, fields: dict[str, str]) -> tuple[list[dict], str, int]:
    """Apply SentinelOne list semantics: filters, sortBy/sortOrder, keyset cursor, limit."""
    try:
        limit = int(query.get("limit", "10"))
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if not 1 <= limit <= 1000:
        raise BadRequest("limit must be between 1 and 1000")
    sort_by = query.get("sortBy", "id")
    order = query.get("sortOrder", "asc")
    if sort_by not in fields or order not in ("asc", "desc"):
        raise BadRequest(f"Invalid sort {sort_by} {order}")
    filters = []
    for key, value in query.items():
        if "__" not in key:
            continue
        name, op = key.rsplit("__", 1)
        if name not in DATE_FIELDS or name not in fields or op not in ("gt", "gte", "lt", "lte"):
            raise BadRequest(f"Unsupported filter {key}")
        try:
            filters.append((fields[name], op, _parse_iso(value)))
        except ValueError:
            raise BadRequest(f"{key}: invalid datetime") from None
    ids = query.get("ids")
    wanted = set(ids.split(",")) if ids else None

    def ok(r: dict[str, Any]) -> bool:
        if wanted is not None and r["id"] not in wanted:
            return False
        for path, op, when in filters:
            v = _get(r, path)
            if v is None:
                return False
            v = _parse_iso(v)
            if not {"gt": v > when, "gte": v >= when, "lt": v < when, "lte": v <= when}[op]:
                return False
        return True

    def key(r: dict[str, Any]) -> tuple:
        v = _get(r, fields[sort_by])
        if sort_by in DATE_FIELDS and v is not None:
            v = _iso(_parse_iso(v))
        return (v or "", int(r["id"]))

    matched = sorted((r for r in records if ok(r)), key=key, reverse=order == "desc")
    signature = hashlib.sha1(json.dumps(sorted((k, v) for k, v in query.items() if k not in ("cursor", "limit"))).encode()).hexdigest()[:12]
    start = 0
    if query.get("cursor"):
        cur = _decode_cursor(query["cursor"])
        if cur.get("q") != signature:
            raise BadRequest("cursor does not match the query filters")
        after = (cur["v"], cur["id"])
        start = len(matched)
        for i, r in enumerate(matched):
            k = key(r)
            if (k > tuple(after)) if order == "asc" else (k < tuple(after)):
                start = i
                break
    page = matched[start:start + limit]
    next_cursor = ""  # the last page's, as recorded (an empty string; the docs say null)
    if start + limit < len(matched) and page:
        last = key(page[-1])
        next_cursor = _encode_cursor({"q": signature, "v": last[0], "id": last[1]})
    return page, next_cursor, len(matched)


class SentinelOneSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, threats: int | None = None,
                 agents: int | None = None, malformed: int = 0, per_timestamp: int = 2,
                 api_token: str = DEMO_API_TOKEN, rate_limit: int = 1000, rate_window_seconds: float = 60.0,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.options = dict(seed=seed, **record_counts(records, threats=threats, agents=agents), malformed=malformed,
                            per_timestamp=per_timestamp, replay=replay)
        self.api_token = api_token
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = S1Data(**self.options)

    @staticmethod
    def error(status: int, code: int, title: str, detail: str | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"errors": [{"code": code, "detail": detail, "title": title}]}, status_code=status,
                            headers=headers)

    def guard(self, request: Request) -> JSONResponse | None:
        gate = self.control.admit(request)
        if gate.status == 429:
            return self.error(429, 4290010, "Too Many Requests", "API rate limit exceeded", {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return self.error(gate.status, gate.status * 10000 + 10, "Internal Server Error"
                              if gate.status == 500 else "Service Unavailable")
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme != "ApiToken" or token.strip() != self.api_token:
            return self.error(401, 4010010, "Authentication Failed", "Invalid or expired API token")
        return None

    def _list(self, request: Request, records: list[dict[str, Any]], fields: dict[str, str]) -> Response:
        denied = self.guard(request)
        if denied:
            return denied
        query = dict(request.query_params)
        try:
            page, next_cursor, total = list_records(records, query, fields)
        except BadRequest as exc:
            return self.error(400, 4000010, "Validation Error", str(exc))
        if query.get("countOnly", "false").lower() == "true":
            page = []
        return JSONResponse({"data": page, "pagination": {"nextCursor": next_cursor, "totalItems": total}})

    async def threats(self, request: Request) -> Response:
        return self._list(request, list(self.data.threats.values()), THREAT_FIELDS)

    async def agents(self, request: Request) -> Response:
        return self._list(request, list(self.data.agents.values()), AGENT_FIELDS)

    async def system_info(self, request: Request) -> Response:
        denied = self.guard(request)
        if denied:
            return denied
        return JSONResponse({"data": {"build": "S-23.4.2#31", "release": "Y", "patch": "2",
                                      "latestAgentVersion": "23.4.2.216", "sha": "d3c9e0f"}})

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {"threats": Stream(d.threats, d.malformed["threats"], d.add_threat, partial(d.touch, "threats")),
                "agents": Stream(d.agents, d.malformed["agents"], d.add_agent, partial(d.touch, "agents"))}

    def routes(self) -> list[Route]:
        return [
            Route(f"{API}/threats", self.threats, methods=["GET"]),
            Route(f"{API}/agents", self.agents, methods=["GET"]),
            Route(f"{API}/system/info", self.system_info, methods=["GET"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (both streams), threats, agents, malformed, per_timestamp, api_token,
    rate_limit, rate_window_seconds, replay ({stream: recorded records}: serve exactly those, nothing
    seeded)."""
    return SentinelOneSimulator(**options).app()

