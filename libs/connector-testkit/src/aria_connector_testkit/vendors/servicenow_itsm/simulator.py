"""Simulator of the ServiceNow Table API (``incident`` table) the connector uses.

Faithful to ServiceNow's public documentation:

* Table API - https://developer.servicenow.com/dev.do#!/reference/api/latest/rest/c_TableAPI and
  https://docs.servicenow.com/bundle/latest/page/integrate/inbound-rest/concept/c_TableAPI.html :
  ``GET /api/now/table/{tableName}`` with ``sysparm_query`` (encoded query), ``sysparm_limit``,
  ``sysparm_offset``, ``sysparm_fields``, ``sysparm_display_value``,
  ``sysparm_exclude_reference_link`` -> ``{"result": [...]}`` with ``X-Total-Count`` and a
  ``Link`` header (first/prev/next/last; next is ``sysparm_offset`` + ``sysparm_limit``); ``POST /api/now/table/{tableName}`` -> 201
  ``{"result": {...}}``; ``PATCH /api/now/table/{tableName}/{sys_id}`` -> 200 ``{"result": {...}}``;
  unknown record 404 ``{"error": {"message": "No Record found", "detail": "..."}, "status": "failure"}``.
* Encoded queries - https://docs.servicenow.com/bundle/latest/page/use/using-lists/concept/c_EncodedQueryStrings.html :
  ``field<op>value`` terms joined by ``^`` (AND), operators ``=``, ``!=``, ``>``, ``>=``, ``<``,
  ``<=``, ``LIKE``, ``STARTSWITH``, ``ISEMPTY``, ``ISNOTEMPTY``; ``ORDERBYfield`` /
  ``ORDERBYDESCfield`` terms in the same query; date-times ``YYYY-MM-DD HH:MM:SS`` (UTC as text) or
  ``javascript:gs.dateGenerate('YYYY-MM-DD','HH:MM:SS')``.
* Row-level ACLs - KB3047115 (https://support.servicenow.com/kb?id=kb_article_view&sysparm_article=KB3047115):
  ACLs filter rows *after* the query runs, so a window of ``sysparm_limit`` rows can come back
  short, or empty, with more rows after it; ``X-Total-Count`` counts the query (the rows the user
  may not read too). ``unreadable``: the creation ordinals (1 = the first incident) of incidents
  the integration user may not read.
* Incident fields - https://docs.servicenow.com/bundle/latest/page/product/incident-management/reference/r_IncidentFormFields.html :
  ``number`` INC..., ``state`` 1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed,
  8 Canceled; ``impact``/``urgency`` 1-3 and ``priority`` 1 Critical .. 5 Planning (from the
  impact x urgency matrix); ``correlation_id`` / ``correlation_display`` identify the record
  in an external system; ``work_notes`` is a journal field (write appends an entry, reads
  return ""). With ``sysparm_display_value=false`` every value is a string and date-times are
  UTC ``YYYY-MM-DD HH:MM:SS``; reference fields are ``{"link", "value"}`` or "".
* Auth - basic; a bad user is 401 ``{"error": {"message": "User Not Authenticated", "detail":
  "Required to provide Auth information"}, "status": "failure"}``. Or OAuth 2.0 client credentials
  (https://www.servicenow.com/docs/bundle/xanadu-platform-security/page/administer/security/concept/client-credentials.html):
  ``POST /oauth_token.do`` form ``grant_type=client_credentials``, ``client_id``, ``client_secret``
  -> ``{"access_token", "scope", "token_type": "Bearer", "expires_in": 1799}``; a bad client is
  401 ``{"error_description": "access_denied", "error": "server_error"}``; then ``Authorization:
  Bearer <token>``.
* Rate limiting - https://docs.servicenow.com/bundle/latest/page/integrate/inbound-rest/concept/inbound-REST-API-rate-limiting.html :
  429 with ``Retry-After``, ``X-RateLimit-Limit``, ``X-RateLimit-Reset`` (epoch seconds).

Records are the vendor's own: seeded and created incidents are the corpus's recorded incidents
(``corpus/incidents``) as templates, their ids, numbers, texts, codes and times varied by the seed;
in replay mode (``replay={"incidents": [...]}``) exactly the given records are served, verbatim,
stored by position (the simulator's own incidents by their sys_id).

Demo credentials: ``aria.integration`` / ``demo-password``.
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import ControlState, basic_credentials, seed_records, simulator_app

DEMO_USER = "aria.integration"
DEMO_PASSWORD = "demo-password"
DEMO_CLIENT_ID = "demo-client-id-0123456789abcdef"
DEMO_CLIENT_SECRET = "demo-client-secret"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
PRIORITY = {("1", "1"): "1", ("1", "2"): "2", ("2", "1"): "2", ("1", "3"): "3", ("2", "2"): "3", ("3", "1"): "3",
            ("2", "3"): "4", ("3", "2"): "4", ("3", "3"): "5"}
STATES = ["1", "1", "2", "3", "6", "7"]
WRITABLE = {"short_description", "description", "impact", "urgency", "state", "category", "correlation_id",
            "correlation_display", "work_notes", "comments", "caller_id", "assignment_group", "close_code",
            "close_notes", "subcategory", "contact_type"}
# Reference fields the integration writes, and the table each refers to.
REFERENCES = {"assignment_group": "sys_user_group", "caller_id": "sys_user"}
SUMMARIES = ["Ransomware indicators on file server", "Phishing campaign targeting finance", "Exposed RDP on jump host",
             "Privileged account used from new country", "Malware detected on kiosk", "Certificate expired on VPN"]


def sn_ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S")


class QueryError(ValueError):
    pass


_TERM = re.compile(r"^([a-z_][a-z0-9_.]*)(ISNOTEMPTY|ISEMPTY|STARTSWITH|LIKE|!=|>=|<=|=|>|<)(.*)$")
_DATEGEN = re.compile(r"^javascript:gs\.dateGenerate\('(\d{4}-\d{2}-\d{2})','(\d{2}:\d{2}:\d{2})'\)$")


def parse_query(query: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, bool]]]:
    terms, order = [], []
    for part in [p for p in (query or "").split("^") if p]:
        if part.startswith("ORDERBYDESC"):
            order.append((part[11:], True))
        elif part.startswith("ORDERBY"):
            order.append((part[7:], False))
        else:
            m = _TERM.match(part)
            if not m:
                raise QueryError(f"invalid encoded query term {part!r}")
            field, op, value = m.groups()
            dg = _DATEGEN.match(value)
            terms.append((field, op, f"{dg.group(1)} {dg.group(2)}" if dg else value))
    return terms, order


def field_value(record: dict[str, Any], field: str) -> str:
    v = record.get(field, "")
    return v.get("value", "") if isinstance(v, dict) else str(v)


def matches(record: dict[str, Any], terms: list[tuple[str, str, str]]) -> bool:
    for field, op, wanted in terms:
        if field not in record:
            return False  # ServiceNow ignores unknown fields in the UI; the API returns nothing for them
        actual = field_value(record, field)
        ok = {"=": actual == wanted, "!=": actual != wanted, ">": actual > wanted, ">=": actual >= wanted,
              "<": actual < wanted, "<=": actual <= wanted, "LIKE": wanted.lower() in actual.lower(),
              "STARTSWITH": actual.lower().startswith(wanted.lower()), "ISEMPTY": actual == "",
              "ISNOTEMPTY": actual != ""}[op]
        if not ok:
            return False
    return True


class ServiceNowSimulator:
    def __init__(self, *, seed: int = 42, records: int | None = None, incidents: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, username: str = DEMO_USER, password: str = DEMO_PASSWORD,
                 client_id: str = DEMO_CLIENT_ID, client_secret: str = DEMO_CLIENT_SECRET, token_ttl: int = 1799,
                 rate_limit: int = 6000, rate_window_seconds: float = 60.0,
                 unreadable: Iterable[int] = (), replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.options = dict(seed=seed, count=incidents if incidents is not None else (records or 40),
                            malformed=malformed)
        self.unreadable = {f"INC{10000 + n:07d}" for n in unreadable}
        self.per_timestamp = max(1, per_timestamp)
        self.username, self.password = username, password
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self.tokens: dict[str, float] = {}
        self.tokens_issued = 0
        self.control = ControlState(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)
        self.replay = replay
        self.templates = records_for("servicenow_itsm", "incidents")
        self.reset()

    def reset(self) -> None:
        self.rng = random.Random(self.options["seed"])
        self.incidents: dict[str | int, dict[str, Any]] = {}
        self.journal: list[dict[str, Any]] = []
        self.ticks = 0
        self.malformed = 0
        self.created = 0
        if self.replay is not None:
            self.incidents = dict(enumerate(self.replay.get("incidents", []), 1))
        else:
            seed_records(self.add, self.options["count"], self.options["malformed"])

    def now(self) -> str:
        ts = sn_ts(T0 + timedelta(seconds=23 * (self.ticks // self.per_timestamp)))
        self.ticks += 1
        return ts

    @staticmethod
    def ref(table: str, sys_id: str) -> dict[str, str]:
        return {"link": f"/api/now/table/{table}/{sys_id}", "value": sys_id}

    def stored(self, field: str, value: Any) -> Any:
        """A written value as the table stores it: a reference (when set) with its link, else text."""
        return self.ref(REFERENCES[field], str(value)) if field in REFERENCES and value else str(value)

    def find(self, sys_id: str) -> dict[str, Any] | None:
        return next((r for r in self.incidents.values() if field_value(r, "sys_id") == sys_id), None)

    def add(self, values: dict[str, Any] | None = None, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        n = len(self.incidents) + 10001
        sys_id = hashlib.md5(f"incident-{self.options['seed']}-{n}".encode()).hexdigest()
        ts = self.now()
        values = values or {}
        impact, urgency = str(values.get("impact") or rng.choice("123")), str(values.get("urgency") or rng.choice("123"))
        state = str(values.get("state") or ("1" if values else rng.choice(STATES)))
        inc = copy.deepcopy(self.templates[(n - 10001) % len(self.templates)])
        inc.update({
            "sys_id": sys_id, "number": f"INC{n:07d}", "short_description": rng.choice(SUMMARIES),
            "description": "Reported by the SOC.", "state": state, "incident_state": state, "impact": impact,
            "urgency": urgency, "active": "true" if state not in ("6", "7", "8") else "false",
            "opened_at": ts, "sys_created_on": ts, "sys_updated_on": ts, "sys_created_by": self.username,
            "sys_updated_by": self.username, "sys_mod_count": "0",
            "resolved_at": ts if state in ("6", "7") else "", "closed_at": ts if state == "7" else "",
            "close_code": "Solved (Permanently)" if state in ("6", "7") else "", "close_notes": "",
            "correlation_id": "", "correlation_display": "", "work_notes": "", "comments": "",
            "assignment_group": rng.choice(["", self.ref("sys_user_group", "287ebd7da9fe198100f92cc8d1d2154e")]),
        })
        for k, v in values.items():
            if k not in ("work_notes", "comments"):
                inc[k] = self.stored(k, v)
        inc["priority"] = PRIORITY[(inc["impact"], inc["urgency"])]
        if malformed:
            inc["priority"] = "9"  # not a ServiceNow priority (1-5): fails mapping
            self.malformed += 1
        self.incidents[sys_id] = inc
        return inc

    def touch(self, count: int) -> list[str]:
        ids = sorted(self.incidents, key=lambda i: self.incidents[i].get("number", ""))[:count]
        for i in ids:
            inc = self.incidents[i]
            inc["state"] = inc["incident_state"] = "2" if inc["state"] == "1" else "6"
            inc["sys_updated_on"] = self.now()
            inc["sys_mod_count"] = str(int(inc["sys_mod_count"]) + 1)
        return ids

    # -- http ------------------------------------------------------------------------------

    @staticmethod
    def error(status: int, message: str, detail: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                            status_code=status, headers=headers)

    def _fault(self, status: int, wait: int, headers: dict[str, str]) -> JSONResponse:
        if status == 429:
            return self.error(429, "Rate limit exceeded", None, {**headers, "Retry-After": str(wait),
                                                                   "X-RateLimit-Reset": str(int(time.time()) + wait)})
        return self.error(status, "Internal server error", None, headers)

    def guard(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        gate = self.control.admit(request)
        headers = {"X-RateLimit-Limit": str(self.control.rate_limit), "X-Is-Logged-In": "true"}
        if gate.status is not None:
            return self._fault(gate.status, gate.retry_after, headers), headers
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        bearer_ok = scheme == "Bearer" and self.tokens.get(token, 0) > time.monotonic()
        if not bearer_ok and basic_credentials(request) != (self.username, self.password):
            return self.error(401, "User Not Authenticated", "Required to provide Auth information",
                              {"WWW-Authenticate": 'BASIC realm="Service-now"'}), headers
        return None, headers

    def _after_write(self, response: Response, headers: dict[str, str]) -> Response:
        fault = self.control.take_write_fault()
        return self._fault(fault.status, fault.retry_after or 1, headers) if fault is not None else response

    def render(self, request: Request, inc: dict[str, Any]) -> dict[str, Any]:
        q = request.query_params
        base = str(request.base_url).rstrip("/")
        exclude_links = q.get("sysparm_exclude_reference_link", "false") == "true"
        out = {}
        for k, v in inc.items():
            if isinstance(v, dict):  # a reference; the simulator's own links are relative to the instance
                link = base + v["link"] if v["link"].startswith("/") else v["link"]
                out[k] = v["value"] if exclude_links else {"link": link, "value": v["value"]}
            else:
                out[k] = v
        fields = [f for f in q.get("sysparm_fields", "").split(",") if f]
        return {f: out.get(f, "") for f in fields} if fields else out

    async def list(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        if request.path_params["table"] != "incident":
            return self.error(400, "Invalid table", request.path_params["table"], headers)
        q = request.query_params
        try:
            limit = int(q.get("sysparm_limit", "10000"))
            offset = int(q.get("sysparm_offset", "0"))
            terms, order = parse_query(q.get("sysparm_query", ""))
        except (ValueError, QueryError) as exc:
            return self.error(400, "Invalid query", str(exc), headers)
        rows = [i for i in self.incidents.values() if matches(i, terms)]
        rows.sort(key=lambda r: field_value(r, "sys_id"))
        for field, desc in reversed(order):
            rows.sort(key=lambda r, f=field: field_value(r, f), reverse=desc)
        page = [r for r in rows[offset:offset + limit] if r.get("number") not in self.unreadable]  # ACLs, after the query
        headers = {**headers, "X-Total-Count": str(len(rows))}
        if offset + limit < len(rows):
            headers["Link"] = (f'<{request.url.include_query_params(sysparm_offset=offset + limit)}>;rel="next",'
                               f'<{request.url.include_query_params(sysparm_offset=0)}>;rel="first"')
        return JSONResponse({"result": [self.render(request, r) for r in page]}, headers=headers)

    def _apply(self, inc: dict[str, Any] | None, body: dict[str, Any]) -> str | None:
        for k in body:
            if k not in WRITABLE:
                return k
        if inc is not None:
            for k, v in body.items():
                if k in ("work_notes", "comments"):
                    if v:
                        self.journal.append({"element_id": field_value(inc, "sys_id"), "element": k, "value": str(v),
                                             "sys_created_on": self.now()})
                        self.created += 1
                    continue
                inc[k] = self.stored(k, v)
            inc["incident_state"] = inc["state"]
            inc["priority"] = PRIORITY.get((inc["impact"], inc["urgency"]), inc["priority"])
            inc["active"] = "false" if inc["state"] in ("6", "7", "8") else "true"
            inc["sys_updated_on"] = self.now()
            inc["sys_mod_count"] = str(int(inc["sys_mod_count"]) + 1)
        return None

    async def create(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        try:
            body = await request.json()
            assert isinstance(body, dict)
        except Exception:
            return self.error(400, "Exception while reading request", "Cannot decode: not JSON", headers)
        bad = self._apply(None, body)
        if bad:
            return self.error(400, "Invalid field", f"Field {bad} does not exist in table incident", headers)
        for k in ("impact", "urgency", "state"):
            if k in body and str(body[k]) not in ({"1", "2", "3"} if k != "state" else {"1", "2", "3", "6", "7", "8"}):
                return self.error(400, "Invalid value", f"{k}: {body[k]}", headers)
        inc = self.add({k: v for k, v in body.items() if k not in ("work_notes", "comments")})
        self.created += 1
        if body.get("work_notes") or body.get("comments"):
            self._apply(inc, {k: body[k] for k in ("work_notes", "comments") if k in body})
        return self._after_write(JSONResponse({"result": self.render(request, inc)}, status_code=201,
                                              headers={**headers, "Location": f"/api/now/table/incident/{inc['sys_id']}"}),
                                 headers)

    async def update(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        inc = self.find(request.path_params["sys_id"])
        if request.path_params["table"] != "incident" or inc is None:
            return self.error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval",
                              headers)
        try:
            body = await request.json()
            assert isinstance(body, dict)
        except Exception:
            return self.error(400, "Exception while reading request", "Cannot decode: not JSON", headers)
        for k in ("impact", "urgency", "state"):
            if k in body and str(body[k]) not in ({"1", "2", "3"} if k != "state" else {"1", "2", "3", "6", "7", "8"}):
                return self.error(400, "Invalid value", f"{k}: {body[k]}", headers)
        bad = self._apply(inc, body)
        if bad:
            return self.error(400, "Invalid field", f"Field {bad} does not exist in table incident", headers)
        return self._after_write(JSONResponse({"result": self.render(request, inc)}, headers=headers), headers)

    async def oauth_token(self, request: Request) -> Response:
        gate = self.control.admit(request, budget=False)
        if gate.status is not None:
            return self._fault(gate.status, gate.retry_after, {})
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error_description": "access_denied", "error": "server_error"}, status_code=401)
        if (form.get("client_id"), form.get("client_secret")) != (self.client_id, self.client_secret):
            return JSONResponse({"error_description": "access_denied", "error": "server_error"}, status_code=401)
        token = secrets.token_urlsafe(48)
        self.tokens[token] = time.monotonic() + self.token_ttl
        self.tokens_issued += 1
        return JSONResponse({"access_token": token, "scope": "useraccount", "token_type": "Bearer",
                             "expires_in": self.token_ttl})

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def state(self) -> dict[str, Any]:
        return {"streams": {"incidents": {"records": len(self.incidents), "malformed": self.malformed}},
                "created": self.created, "journal_entries": len(self.journal), "tokens_issued": self.tokens_issued}

    def add_records(self, stream: str, count: int, malformed: int, update: int) -> dict[str, Any]:
        if stream != "incidents":
            raise KeyError(stream)
        added = [self.add()["sys_id"] for _ in range(count)] + [self.add(malformed=True)["sys_id"] for _ in range(malformed)]
        return {"added": added, "updated": self.touch(update) if update else []}

    def app(self) -> Starlette:
        return simulator_app(self, [
            Route("/oauth_token.do", self.oauth_token, methods=["POST"]),
            Route("/api/now/table/{table}", self.list, methods=["GET"]),
            Route("/api/now/table/{table}", self.create, methods=["POST"]),
            Route("/api/now/table/{table}/{sys_id}", self.update, methods=["PATCH", "PUT"]),
        ], expire_tokens=self.expire_tokens)


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / incidents, malformed, per_timestamp, username, password, client_id, client_secret,
    token_ttl, rate_limit, rate_window_seconds, unreadable, replay ({"incidents": [recorded incidents]}: exactly
    those, nothing seeded)."""
    return ServiceNowSimulator(**options).app()
