"""Simulator of the CrowdStrike Falcon API subset the connector uses.

Faithful to the public API reference (field names, envelopes, limits):

* OAuth2 - https://developer.crowdstrike.com/api-reference/collections/oauth2/ and
  https://falconpy.io/Service-Collections/OAuth2.html : ``POST /oauth2/token`` with form
  ``client_id``/``client_secret`` -> 201 ``{"access_token", "token_type": "bearer",
  "expires_in": 1799}``; tokens live 30 minutes. (The real API answers bad client
  credentials with 401 or 403 depending on the cloud; this simulator sends 401
  ``access denied, authorization failed``, the body CrowdStrike's gateway returns.)
* Alerts - https://developer.crowdstrike.com/api-reference/collections/alerts/ and
  https://github.com/CrowdStrike/crimson-falcon/blob/main/docs/AlertsApi.md :
  ``GET /alerts/queries/alerts/v2`` (offset, limit 1..10000 default 100, sort
  ``field|asc``, FQL ``filter``) -> composite ids; ``POST /alerts/entities/alerts/v2``
  ``{"composite_ids": [...]}`` (max 1000) -> alert entities.
* Hosts - https://developer.crowdstrike.com/api-reference/collections/hosts/ :
  ``GET /devices/queries/devices/v1`` (offset, limit 1..5000, sort ``field.asc``, filter)
  -> device ids; ``GET /devices/entities/devices/v2?ids=`` (max 100) and
  ``POST /devices/entities/devices/v2`` ``{"ids": [...]}`` (max 5000) -> device details.
* Offset window - the query endpoints page by offset only within the first 10,000 results:
  ``GET /devices/queries/devices/v1`` answers offset + limit > 10000 with 400 ``limit + offset
  must be less than 10000`` (https://github.com/CrowdStrike/falconpy/issues/532; past it the vendor
  offers ``/devices/queries/devices-scroll/v1``, whose offset token expires after 2 minutes), and
  ``/alerts/queries/alerts/v2`` fails with 500 once paged past 10,000 results
  (https://github.com/CrowdStrike/psfalcon/issues/423). A filter narrows a query below it.
* Envelope ``{"meta": {"query_time", "pagination": {"offset", "limit", "total"},
  "powered_by", "trace_id"}, "resources": [...], "errors": [...]}``; rate-limit headers
  ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining``; 429 carries ``Retry-After`` and
  ``X-RateLimit-RetryAfter`` (epoch seconds).

FQL support: ``field:'v'``, ``field:!'v'``, ``field:>'v'``, ``>=``, ``<``, ``<=``,
numbers unquoted, terms joined by ``+`` (AND). Timestamps compare chronologically
(nanosecond fractions kept).

Demo credentials: client id ``demo-client-id``, secret ``demo-client-secret``.
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``; besides,
``POST /_sim/update_on_fetch`` ``{"stream": s, "count": n}`` updates the first n ids of the
stream's next entity request just before answering it, as an analyst working an alert between a
client's id query and its entity fetch would.
"""

from __future__ import annotations

import bisect
import copy
import hashlib
import random
import re
import secrets as _secrets
import time
import uuid
from urllib.parse import parse_qs
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import (TIMESTAMP, ControlState, FastJSONResponse, seed_records, simulator_app,
                                             ts_key)

OFFSET_WINDOW = 10_000  # offset + limit of a query page (see the module docstring)
DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STREAMS = ("alerts", "hosts")

STATUSES = ["new", "new", "in_progress", "closed", "reopened"]


def severity_name(severity: int) -> str:
    if severity >= 90:
        return "Critical"
    if severity >= 70:
        return "High"
    if severity >= 50:
        return "Medium"
    if severity >= 20:
        return "Low"
    return "Informational"


class FalconData:
    """Deterministic tenant data. Record ``seq`` numbers fix timestamps; pairs of records
    share a timestamp so equal cursors straddle page boundaries. Records are the recorded ones of
    the corpus (``records_for``: endpoint, cloud and identity alerts; hosts) taken in turn, copied,
    with ids, times, hosts and severities varied: every field path and JSON type is one Falcon
    returned (a cloud alert keeps its device-less shape, an identity alert its missing
    severity_name). ``replay``: exactly those records per stream, stored under the id the query
    endpoints return (alerts ``composite_id``, hosts ``device_id``), nothing seeded."""

    def __init__(self, seed: int, alerts: int, hosts: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.per_timestamp = max(1, per_timestamp)
        self.rng = random.Random(seed)
        self.cid = hashlib.md5(f"cid-{seed}".encode()).hexdigest()
        self.seq = {"alerts": 0, "hosts": 0}
        self.hosts: dict[str, dict[str, Any]] = {}
        self._host_ids: list[str] = []  # insertion order, so picking a host is O(1) at any size
        self.alerts: dict[str, dict[str, Any]] = {}
        self.malformed = {"alerts": 0, "hosts": 0}
        self.version = 0  # bumped on every change, so sorted views know when to rebuild
        if replay is not None:
            for stream, records in replay.items():
                key = "composite_id" if stream == "alerts" else "device_id"
                getattr(self, stream).update((r[key], copy.deepcopy(r)) for r in records)
            self._host_ids = list(self.hosts)
            return
        # serialized once: orjson.loads of a template is a fast deep copy at benchmark sizes
        self.templates = {s: [orjson.dumps(r) for r in records_for("crowdstrike_falcon", s)] for s in STREAMS}
        for _ in range(max(hosts, 1) if alerts else hosts):
            self.add_host()
        seed_records(self.add_alert, alerts, malformed)

    def _next_seq(self, stream: str) -> int:
        n = self.seq[stream]
        self.seq[stream] += 1
        return n

    def template(self, stream: str, seq: int) -> dict[str, Any]:
        """Recorded record ``seq`` (in turn) of ``stream``, as a copy to vary."""
        records = self.templates[stream]
        return orjson.loads(records[seq % len(records)])

    def alert_ts(self, seq: int) -> str:
        bucket = seq // self.per_timestamp
        when = T0 + timedelta(minutes=bucket)
        return when.strftime("%Y-%m-%dT%H:%M:%S") + f".{bucket * 7919 % 10**9:09d}Z"

    def host_ts(self, seq: int) -> str:
        return (T0 + timedelta(minutes=seq // self.per_timestamp)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_host(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        seq = self._next_seq("hosts")
        host = self.template("hosts", seq)
        device_id = hashlib.md5(f"{self.cid}-host-{seq}".encode()).hexdigest()
        modified = self.host_ts(seq)
        host.update(device_id=device_id, cid=self.cid, hostname=f"WKS-{seq:04d}",
                    mac_address="-".join(f"{rng.randrange(256):02x}" for _ in range(6)),
                    local_ip=f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}",
                    external_ip=f"203.0.113.{rng.randrange(1, 255)}",
                    first_seen=(T0 - timedelta(days=rng.randrange(30, 400))).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    last_seen=modified, modified_timestamp=modified, agent_local_time=modified[:-1] + ".000Z",
                    status=rng.choice(["normal", "normal", "normal", "contained"]))
        if malformed:
            host["hostname"] = None  # an asset must have a name: fails mapping
            self.malformed["hosts"] += 1
        if device_id not in self.hosts:
            self._host_ids.append(device_id)
        self.hosts[device_id] = host
        self.version += 1
        return host

    def add_alert(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        seq = self._next_seq("alerts")
        alert = self.template("alerts", seq)
        if not self.hosts:
            self.add_host()
        host = self.hosts[self._host_ids[rng.randrange(len(self._host_ids))]]
        severity = rng.randrange(10, 101)
        ts = self.alert_ts(seq)
        # the recorded id with this tenant's cid and a unique last part: "<cid>:ind:<device>:<detect>",
        # "<cid>:fcs:ioa-211:<uuid>", ...
        recorded_cid = alert["composite_id"].split(":")[0]
        kind = [self.cid if part == recorded_cid else part for part in alert["composite_id"].split(":")[1:-1]]
        device = alert.get("device")
        if isinstance(device, dict) and "device_id" in device:  # an endpoint alert: on one of the hosts
            kind = [kind[0], host["device_id"]] if len(kind) == 2 else kind
            for field in ("device_id", "hostname", "local_ip", "external_ip", "mac_address", "platform_name",
                          "os_version", "machine_domain"):
                if field in device and field in host:
                    device[field] = host[field]
            if "agent_id" in alert:
                alert["agent_id"] = host["device_id"]
        detect = f"{rng.randrange(10**9, 10**10)}-{rng.randrange(10000, 99999)}-{seq:08d}"
        alert["id"] = ":".join([*kind, detect])
        alert["composite_id"] = f"{self.cid}:{alert['id']}"
        alert.update(cid=self.cid, severity=severity, status=rng.choice(STATUSES), timestamp=ts,
                     created_timestamp=ts, updated_timestamp=ts)
        if "severity_name" in alert:  # identity alerts have none (the connector names it)
            alert["severity_name"] = severity_name(severity)
        if malformed:
            alert["severity_name"] = "Severe?"  # not a Falcon severity name: fails mapping
            alert["name"] = None
            self.malformed["alerts"] += 1
        self.alerts[alert["composite_id"]] = alert
        self.version += 1
        return alert

    def touch(self, stream: str, count: int) -> list[str]:
        """Update the ``count`` oldest records (new status, newer update timestamp)."""
        table = self.alerts if stream == "alerts" else self.hosts
        field = "updated_timestamp" if stream == "alerts" else "modified_timestamp"
        oldest = sorted(table.values(), key=lambda r: (ts_key(r[field]), r.get("composite_id") or r["device_id"]))
        return self.update(stream, oldest[:count])

    def update(self, stream: str, records: list[dict[str, Any]]) -> list[str]:
        """Update ``records`` of ``stream`` now: each gets the next (newest) update timestamp."""
        touched = []
        for rec in records:
            seq = self._next_seq(stream)
            if stream == "alerts":
                rec["updated_timestamp"] = self.alert_ts(seq)
                rec["status"] = "in_progress" if rec["status"] != "in_progress" else "closed"
                touched.append(rec["composite_id"])
            else:
                rec["modified_timestamp"] = rec["last_seen"] = self.host_ts(seq)
                touched.append(rec["device_id"])
        self.version += 1
        return touched


# --- FQL ------------------------------------------------------------------------------------

_TERM = re.compile(r"^([A-Za-z_][\w.]*):(!|>=|<=|>|<)?(?:'([^']*)'|\"([^\"]*)\"|([^'\"+]+))$")


class FqlError(ValueError):
    pass


def _split_terms(fql: str) -> list[str]:
    terms, cur, quote = [], "", None
    for ch in fql:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
            cur += ch
        elif ch == "+":
            terms.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if quote:
        raise FqlError("unterminated quote")
    terms.append(cur.strip())
    return [t for t in terms if t]


def _get(rec: dict[str, Any], path: str) -> Any:
    cur: Any = rec
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def _compare(actual: Any, op: str, wanted: str) -> bool:
    if actual is None:
        return op == "!"
    if isinstance(actual, bool):
        a, w = str(actual).lower(), wanted.lower()
    elif isinstance(actual, (int, float)):
        try:
            a, w = actual, float(wanted)
        except ValueError:
            raise FqlError(f"{wanted!r} is not a number") from None
    elif isinstance(actual, str) and TIMESTAMP.match(actual):
        try:
            a, w = ts_key(actual), ts_key(wanted if wanted.endswith("Z") else wanted + "Z")
        except ValueError:
            raise FqlError(f"{wanted!r} is not a timestamp") from None
    else:
        a, w = str(actual), wanted
    return {"": a == w, "!": a != w, ">": a > w, ">=": a >= w, "<": a < w, "<=": a <= w}[op]


Predicate = tuple[str, str, str]  # (field, operator, value) of one FQL term


def parse_fql(fql: str | None, fields: set[str]) -> list[Predicate]:
    preds: list[Predicate] = []
    for term in _split_terms(fql or ""):
        m = _TERM.match(term)
        if not m:
            raise FqlError(f"cannot parse filter term {term!r}")
        field, op, v1, v2, v3 = m.groups()
        if field.split(".")[0] not in fields:
            raise FqlError(f"invalid filter field {field!r}")
        preds.append((field, op or "", v1 if v1 is not None else v2 if v2 is not None else v3.strip()))
    return preds


def matches(record: dict[str, Any], preds: list[Predicate]) -> bool:
    return all(_compare(_get(record, f), op, v) for f, op, v in preds)


_SORT = re.compile(r"^([\w.]+?)(?:[|.](asc|desc))?$")


def parse_sort(sort: str | None) -> tuple[str, str] | None:
    """(field, asc|desc) of a ``sort`` parameter; None when absent."""
    if not sort:
        return None
    m = _SORT.match(sort.strip())
    if not m:
        raise FqlError(f"invalid sort {sort!r}")
    return m.group(1), m.group(2) or "asc"


def sort_records(records: list[dict[str, Any]], sort: str | None, id_field: str) -> list[dict[str, Any]]:
    """By the sort field, then by id (the API's order for equal values); by id alone without ``sort``."""
    out = sorted(records, key=lambda r: r[id_field])
    order = parse_sort(sort)
    if order is None:
        return out
    field, direction = order

    def key(r: dict[str, Any]) -> tuple:
        v = _get(r, field)
        if isinstance(v, str) and TIMESTAMP.match(v):
            return (0, ts_key(v))
        return (0 if v is not None else 1, v if v is not None else "")

    return sorted(out, key=key, reverse=direction == "desc")


class SortedView:
    """One stream's records in one sort order, built once per change of the data.

    A query page is then a slice: the vendor's answer (filter, order, offset, limit, total) is
    the same as filtering and sorting the whole tenant on every call, without the cost. When
    the sort is ascending on a field every record holds as a timestamp, the FQL range terms
    on that field (the incremental cursor filter) are bisected instead of scanned.
    """

    def __init__(self, records: list[dict[str, Any]], order: tuple[str, str] | None, id_field: str) -> None:
        self.records = sort_records(records, None if order is None else f"{order[0]}|{order[1]}", id_field)
        self.field = order[0] if order else None
        self.keys: list[tuple[str, int]] | None = None
        if order is not None and order[1] == "asc" and self.records:
            values = [_get(r, order[0]) for r in self.records]
            if all(isinstance(v, str) and TIMESTAMP.match(v) for v in values):
                self.keys = [ts_key(v) for v in values]

    def select(self, preds: list[Predicate]) -> tuple[int, int, list[Predicate]]:
        """[lo, hi) of the records the bisectable terms allow, and the terms left to check per record."""
        lo, hi, rest = 0, len(self.records), []
        for field, op, value in preds:
            if self.keys is None or field != self.field or op not in (">", ">=", "<", "<="):
                rest.append((field, op, value))
                continue
            try:
                wanted = ts_key(value if value.endswith("Z") else value + "Z")
            except ValueError:
                raise FqlError(f"{value!r} is not a timestamp") from None
            if op == ">=":
                lo = max(lo, bisect.bisect_left(self.keys, wanted))
            elif op == ">":
                lo = max(lo, bisect.bisect_right(self.keys, wanted))
            elif op == "<":
                hi = min(hi, bisect.bisect_left(self.keys, wanted))
            else:
                hi = min(hi, bisect.bisect_right(self.keys, wanted))
        return lo, max(lo, hi), rest


# --- app ------------------------------------------------------------------------------------


class FalconSimulator:
    def __init__(self, *, seed: int = 42, records: int | None = None, alerts: int | None = None,
                 hosts: int | None = None, malformed: int = 0, per_timestamp: int = 2, client_id: str = DEMO_CLIENT_ID,
                 client_secret: str = DEMO_CLIENT_SECRET, token_ttl: int = 1799, rate_limit: int = 6000,
                 rate_window_seconds: float = 60.0, offset_window: int = OFFSET_WINDOW,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        default = 60 if records is None else records
        self.options = dict(seed=seed, alerts=default if alerts is None else alerts,
                            hosts=(default if hosts is None else hosts), malformed=malformed,
                            per_timestamp=per_timestamp, replay=replay)
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self.offset_window = offset_window  # 0: none, for a client that pages by offset past the vendor's
        self.control = ControlState(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.reset()

    def reset(self) -> None:
        self.data = FalconData(**self.options)
        self._views: dict[tuple, SortedView] = {}
        self._fields: dict[tuple, set[str]] = {}
        self.tokens.clear()
        self.tokens_issued = 0
        self.update_on_fetch: dict[str, int] = {}

    # -- envelope helpers -------------------------------------------------------------------

    def _headers(self, remaining: int) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.control.rate_limit), "X-RateLimit-Remaining": str(remaining),
                "X-Cs-Traceid": str(uuid.uuid4())}

    @staticmethod
    def envelope(resources: Any, *, errors: list | None = None, pagination: dict | None = None,
                 started: float | None = None) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "query_time": round(time.perf_counter() - started, 9) if started else 1e-06,
            "powered_by": "crowdstrike-api-gateway",
            "trace_id": str(uuid.uuid4()),
        }
        if pagination is not None:
            meta["pagination"] = pagination
        return {"meta": meta, "resources": resources, "errors": errors or []}

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return FastJSONResponse(self.envelope([], errors=[{"code": status, "message": message}]),
                            status_code=status, headers=headers)

    async def guard(self, request: Request, *, auth: bool = True) -> tuple[JSONResponse | None, dict[str, str]]:
        """Rate limit, injected faults and bearer auth, in the gateway's order."""
        gate = self.control.admit(request)
        headers = self._headers(gate.remaining)
        if gate.status == 429:
            return self.error(429, "API rate limit exceeded.", {
                **headers, "Retry-After": str(gate.retry_after),
                "X-RateLimit-RetryAfter": str(int(time.time()) + gate.retry_after)}), headers
        if gate.status is not None:
            return self.error(gate.status, "Internal Server Error" if gate.status == 500 else "Service Unavailable",
                              headers), headers
        if auth:
            value = request.headers.get("authorization", "")
            token = value[7:] if value.lower().startswith("bearer ") else ""
            expires = self.tokens.get(token)
            if not token or expires is None or expires < time.monotonic():
                return self.error(401, "access denied, authorization failed", headers), headers
        return None, headers

    # -- endpoints --------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        denied, headers = await self.guard(request, auth=False)
        if denied:
            return denied
        # x-www-form-urlencoded, parsed here so the simulator needs no multipart library
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return self.error(401, "access denied, authorization failed", headers)
        token = _secrets.token_urlsafe(32)
        self.tokens[token] = time.monotonic() + self.token_ttl
        self.tokens_issued += 1
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": self.token_ttl},
                            status_code=201, headers=headers)

    def _table(self, stream: str) -> dict[str, dict[str, Any]]:
        return self.data.alerts if stream == "alerts" else self.data.hosts

    def _filter_fields(self, stream: str) -> set[str]:
        """Fields an FQL filter may name: those the stream's records carry."""
        key = (stream, self.data.version)
        if key not in self._fields:
            table = self._table(stream)
            self._fields = {k: v for k, v in self._fields.items() if k[1] == self.data.version}
            self._fields[key] = (set().union(*(r.keys() for r in table.values())) if table
                                 else {"status" if stream == "alerts" else "hostname"})
        return self._fields[key]

    def _view(self, stream: str, order: tuple[str, str] | None, id_field: str) -> SortedView:
        key = (stream, order, self.data.version)
        view = self._views.get(key)
        if view is None:
            self._views = {k: v for k, v in self._views.items() if k[2] == self.data.version}
            view = self._views[key] = SortedView(list(self._table(stream).values()), order, id_field)
        return view

    def _query(self, request: Request, stream: str, id_field: str, max_limit: int,
               past_window: tuple[int, str]) -> JSONResponse | tuple[list[str], dict[str, int]]:
        q = request.query_params
        try:
            offset = int(q.get("offset", "0"))
            limit = int(q.get("limit", "100"))
        except ValueError:
            return self.error(400, "offset and limit must be integers")
        if not 1 <= limit <= max_limit:
            return self.error(400, f"limit must be between 1 and {max_limit}")
        if offset < 0:
            return self.error(400, "offset must be non-negative")
        if self.offset_window and offset + limit > self.offset_window:
            return self.error(*past_window)
        try:
            preds = parse_fql(q.get("filter"), self._filter_fields(stream))
            view = self._view(stream, parse_sort(q.get("sort")), id_field)
            lo, hi, rest = view.select(preds)
            if rest:
                matched = [r for r in view.records[lo:hi] if matches(r, rest)]
                total, page = len(matched), matched[offset:offset + limit]
            else:
                total, page = hi - lo, view.records[lo + offset:min(hi, lo + offset + limit)]
        except FqlError as exc:
            return self.error(400, f"Invalid filter: {exc}")
        ids = [r[id_field] for r in page]
        return ids, {"offset": offset, "limit": limit, "total": total}

    def id_query(self, stream: str, id_field: str, max_limit: int, past_window: tuple[int, str]):
        """An id query route: the stream's ids matching the FQL filter, one page of them; each query
        answers its own way past the offset window (alerts 500, devices 400)."""
        async def query(request: Request) -> Response:
            started = time.perf_counter()
            denied, headers = await self.guard(request)
            if denied:
                return denied
            out = self._query(request, stream, id_field, max_limit, past_window)
            if isinstance(out, JSONResponse):
                return out
            ids, pagination = out
            return FastJSONResponse(self.envelope(ids, pagination=pagination, started=started), headers=headers)
        return query

    async def alert_entities(self, request: Request) -> Response:
        started = time.perf_counter()
        denied, headers = await self.guard(request)
        if denied:
            return denied
        try:
            body = await request.json()
            ids = body["composite_ids"]
            assert isinstance(ids, list)
        except Exception:
            return self.error(400, "request body must be {\"composite_ids\": [...]}")
        if len(ids) > 1000:
            return self.error(400, "a maximum of 1000 composite_ids may be requested")
        self._update_fetched("alerts", ids)
        found = [self.data.alerts[i] for i in ids if i in self.data.alerts]
        errors = [{"code": 404, "message": f"alert {i} not found"} for i in ids if i not in self.data.alerts]
        return FastJSONResponse(self.envelope(found, errors=errors, started=started), headers=headers)

    async def device_entities(self, request: Request) -> Response:
        started = time.perf_counter()
        denied, headers = await self.guard(request)
        if denied:
            return denied
        if request.method == "GET":
            ids, max_ids = request.query_params.getlist("ids"), 100
        else:
            try:
                ids = (await request.json())["ids"]
            except Exception:
                return self.error(400, "request body must be {\"ids\": [...]}")
            max_ids = 5000
        if not ids:
            return self.error(400, "ids is required")
        if len(ids) > max_ids:
            return self.error(400, f"a maximum of {max_ids} ids may be requested")
        self._update_fetched("hosts", ids)
        found = [self.data.hosts[i] for i in ids if i in self.data.hosts]
        errors = [{"code": 404, "message": f"device {i} not found"} for i in ids if i not in self.data.hosts]
        return FastJSONResponse(self.envelope(found, errors=errors, started=started), headers=headers)

    # -- control ------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "streams": {
                "alerts": {"records": len(self.data.alerts), "malformed": self.data.malformed["alerts"]},
                "hosts": {"records": len(self.data.hosts), "malformed": self.data.malformed["hosts"]},
            },
            "tokens_issued": self.tokens_issued,
        }

    def add_records(self, stream: str, count: int, malformed: int, update: int) -> dict[str, Any]:
        if stream not in STREAMS:
            raise KeyError(stream)
        add = self.data.add_alert if stream == "alerts" else self.data.add_host
        id_field = "composite_id" if stream == "alerts" else "device_id"
        added = [add()[id_field] for _ in range(count)] + [add(malformed=True)[id_field] for _ in range(malformed)]
        touched = self.data.touch(stream, update) if update else []
        return {"added": added, "updated": touched}

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _update_fetched(self, stream: str, ids: list[str]) -> None:
        count = self.update_on_fetch.pop(stream, 0)
        if count:
            table = self._table(stream)
            self.data.update(stream, [table[i] for i in ids if i in table][:count])

    async def post_update_on_fetch(self, request: Request) -> Response:
        body = await request.json()
        if body.get("stream") not in STREAMS:
            return JSONResponse({"error": f"unknown stream {body.get('stream')!r}"}, status_code=404)
        self.update_on_fetch[body["stream"]] = int(body.get("count", 1))
        return JSONResponse({"pending": self.update_on_fetch})

    def app(self) -> Starlette:
        return simulator_app(self, [
            Route("/oauth2/token", self.token, methods=["POST"]),
            Route("/alerts/queries/alerts/v2", self.id_query("alerts", "composite_id", 10000, (500, "Internal Server Error")), methods=["GET"]),
            Route("/alerts/entities/alerts/v2", self.alert_entities, methods=["POST"]),
            Route("/devices/queries/devices/v1", self.id_query("hosts", "device_id", 5000, (400, "limit + offset must be less than 10000")),
                  methods=["GET"]),
            Route("/devices/entities/devices/v2", self.device_entities, methods=["GET", "POST"]),
            Route("/_sim/update_on_fetch", self.post_update_on_fetch, methods=["POST"]),
        ], expire_tokens=self.expire_tokens)


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (both streams), alerts, hosts, malformed, per_timestamp (records sharing
    one timestamp), client_id, client_secret,
    token_ttl, rate_limit, rate_window_seconds, offset_window (offset + limit a query page may reach;
    default the vendor's 10,000, 0 for none), replay ({stream: recorded records}: serve exactly those,
    nothing seeded)."""
    return FalconSimulator(**options).app()
