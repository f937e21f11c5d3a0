"""Simulator of the Microsoft Sentinel / Azure Monitor Logs API subset the connector uses.

Faithful to Microsoft's public REST documentation:

* Auth - https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow :
  ``POST /{tenant}/oauth2/v2.0/token`` (client credentials, ``scope=https://management.azure.com/.default``
  for ARM, ``https://api.loganalytics.io/.default`` for the direct Logs API) -> ``{"token_type":
  "Bearer", "expires_in": 3599, "ext_expires_in", "access_token"}``; errors ``invalid_client``
  (401, AADSTS7000215), ``unauthorized_client`` (400, AADSTS700016), ``invalid_request`` (400,
  AADSTS90002 unknown tenant). Tokens carry their audience; ARM rejects a foreign one with
  ``401 InvalidAuthenticationTokenAudience``.
* Incidents - https://learn.microsoft.com/en-us/rest/api/securityinsights/incidents/list :
  ``GET {workspace}/providers/Microsoft.SecurityInsights/incidents?api-version=2024-03-01``
  with ``$filter``, ``$orderby``, ``$top``, ``$skipToken``; ``{"value": [...], "nextLink"}``.
  Incident: ``id``, ``name``, ``etag``, ``type``, ``properties`` {title, description, severity
  High/Medium/Low/Informational, status New/Active/Closed, classification, owner, labels,
  firstActivityTimeUtc, lastActivityTimeUtc, lastModifiedTimeUtc, createdTimeUtc,
  incidentNumber, incidentUrl, providerName, providerIncidentId, additionalData {alertsCount,
  bookmarksCount, commentsCount, alertProductNames, tactics, techniques},
  relatedAnalyticRuleIds}. ``{workspace}`` is
  ``/subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{name}``.
* Logs query - https://learn.microsoft.com/en-us/azure/azure-monitor/logs/api/request-format and
  https://learn.microsoft.com/en-us/azure/azure-monitor/logs/api/response-format : direct
  ``GET|POST /v1/workspaces/{workspaceId}/query`` (``query``, ``timespan``) and the same API
  through ARM, ``GET|POST {workspace}/api/query?api-version=2017-10-01`` (operationalinsights
  swagger ``Query_Execute``). Response ``{"tables": [{"name": "PrimaryResult", "columns":
  [{"name", "type"}], "rows": [[...]]}]}``; bad KQL is ``400 {"error": {"code":
  "BadArgumentError", "innererror": {"code": "SyntaxError", ...}}}``.
* SecurityAlert table - https://learn.microsoft.com/en-us/azure/azure-monitor/reference/tables/securityalert :
  append-only; an alert update is a new row with the same ``SystemAlertId`` and a newer
  ``TimeGenerated`` (so the latest state is ``summarize arg_max(TimeGenerated, *) by SystemAlertId``).
* Seeded incidents and SecurityAlert rows are the corpus's recorded ones (``corpus/incidents``,
  ``corpus/security_alerts``) copied into the workspace with new ids, times, severities and statuses.
* ARM throttling - https://learn.microsoft.com/en-us/azure/azure-resource-manager/management/request-limits-and-throttling :
  ``x-ms-ratelimit-remaining-subscription-reads`` on responses, 429 with ``Retry-After``.

KQL subset: ``Table``, ``where`` (``and``-joined comparisons, ``datetime()``, strings, numbers),
``summarize arg_max(Col, *) by Key``, ``sort by``/``order by`` (default desc, as in Kusto),
``serialize Name = row_number()``, ``take``/``limit``, ``project``, ``project-away``.
Requests are counted per full path and per workspace-relative path (``/providers/...``,
``/api/query``, ``/query``). Demo credentials: client id ``demo-client-id``, secret
``demo-client-secret``. Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import re
import secrets as _secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, TIMESTAMP, fmt7, record_counts, ts_key

DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
ARM_SCOPES = ("https://management.azure.com/.default", "https://management.core.windows.net/.default")
LA_SCOPES = ("https://api.loganalytics.io/.default", "https://api.loganalytics.azure.com/.default")
INCIDENT_API_VERSIONS = {"2023-02-01", "2023-11-01", "2024-03-01", "2024-09-01", "2025-06-01"}
QUERY_API_VERSIONS = {"2017-10-01", "2017-01-01-preview"}
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STREAMS = ("incidents", "security_alerts")

SEVERITIES = ["High", "Medium", "Medium", "Low", "Informational"]

class SentinelData(SeededData):
    def __init__(self, seed: int, incidents: int, security_alerts: int, malformed: int, per_timestamp: int,
                 scope: str, tenant: str, replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.scope, self.tenant = scope, tenant
        self.incidents: dict[str, dict[str, Any]] = {}  # ARM name -> incident (ARM resources always have one)
        self.alert_rows: list[dict[str, Any]] = []  # append-only SecurityAlert table
        if replay is not None:  # exactly the given records, nothing seeded
            for incident in replay.get("incidents", []):
                self.incidents[incident["name"]] = copy.deepcopy(incident)
            self.alert_rows.extend(copy.deepcopy(row) for row in replay.get("security_alerts", []))
            return
        self.incident_templates = records_for("microsoft_sentinel", "incidents")
        self.alert_templates = records_for("microsoft_sentinel", "security_alerts")
        for _ in range(incidents):
            self.add_incident()
        for _ in range(security_alerts):
            self.add_alert()
        for _ in range(malformed):
            self.add_incident(malformed=True)

    def ts(self, stream: str) -> str:
        bucket = self.step(stream)
        return fmt7(T0 + timedelta(minutes=bucket), bucket * 7654321)

    def add_incident(self, malformed: bool = False) -> dict[str, Any]:
        """A recorded incident (``records_for``) copied into this workspace with a new name, number,
        times, severity and status."""
        rng = self.rng
        ts = self.ts("incidents")
        number = len(self.incidents) + 1
        incident = copy.deepcopy(self.incident_templates[(number - 1) % len(self.incident_templates)])
        name = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        arm_id = f"{self.scope}/providers/Microsoft.SecurityInsights/Incidents/{name}"
        created = fmt7(datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
                       - timedelta(minutes=rng.randrange(0, 60)), rng.randrange(10**7))
        incident.update(id=arm_id, name=name, etag=f"\"{uuid.UUID(int=rng.getrandbits(128))}\"")
        props = incident["properties"]
        props.update(severity=rng.choice(SEVERITIES[:4]), status=rng.choice(["New", "New", "Active", "Closed"]),
                     firstActivityTimeUtc=created, lastActivityTimeUtc=created, createdTimeUtc=created,
                     lastModifiedTimeUtc=ts, incidentNumber=number,
                     incidentUrl=f"https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident{arm_id}")
        if "providerIncidentId" in props:
            props["providerIncidentId"] = str(number)
        if malformed:
            props["severity"] = "Critical"  # not a Sentinel incident severity
            props["title"] = None
            self.malformed["incidents"] += 1
        self.incidents[name] = incident
        return incident

    def add_alert(self, malformed: bool = False) -> dict[str, Any]:
        """A recorded SecurityAlert row copied into this workspace with a new alert id, times, severity
        and status."""
        rng = self.rng
        ts = self.ts("security_alerts")
        row = copy.deepcopy(self.alert_templates[len(self.alert_rows) % len(self.alert_templates)])
        start = fmt7(datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
                     - timedelta(minutes=rng.randrange(1, 30)))
        row.update(TenantId=self.tenant, TimeGenerated=ts, ProcessingEndTime=ts, StartTime=start, EndTime=start,
                   SystemAlertId=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                   VendorOriginalId=str(uuid.UUID(int=rng.getrandbits(128))),
                   AlertSeverity=rng.choice(SEVERITIES), Status=rng.choice(["New", "New", "InProgress", "Resolved"]),
                   WorkspaceSubscriptionId=self.scope.split("/")[2], WorkspaceResourceGroup=self.scope.split("/")[4])
        if malformed:
            row["AlertSeverity"] = "Severe"
            row["AlertName"] = None
            self.malformed["security_alerts"] += 1
        self.alert_rows.append(row)
        return row

    def latest_alerts(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for row in self.alert_rows:
            prev = out.get(row["SystemAlertId"])
            if prev is None or ts_key(row["TimeGenerated"]) >= ts_key(prev["TimeGenerated"]):
                out[row["SystemAlertId"]] = row
        return out

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "incidents":
            rows = sorted(self.incidents.values(), key=lambda r: (ts_key(r["properties"]["lastModifiedTimeUtc"]), r["name"]))
            out = []
            for inc in rows[:count]:
                p = inc["properties"]
                p["lastModifiedTimeUtc"] = self.ts("incidents")
                p["status"] = {"New": "Active", "Active": "Closed", "Closed": "Active"}[p["status"]]
                inc["etag"] = f"\"{uuid.UUID(int=self.rng.getrandbits(128))}\""
                out.append(inc["name"])
            return out
        latest = sorted(self.latest_alerts().values(), key=lambda r: (ts_key(r["TimeGenerated"]), r["SystemAlertId"]))
        out = []
        for row in latest[:count]:
            new = dict(row, TimeGenerated=self.ts("security_alerts"),
                       Status="InProgress" if row["Status"] != "InProgress" else "Resolved")
            self.alert_rows.append(new)  # Log Analytics is append-only
            out.append(row["SystemAlertId"])
        return out


# --- KQL subset -----------------------------------------------------------------------------


class KqlError(ValueError):
    pass


SECURITY_ALERT_TYPES = {"TimeGenerated": "datetime", "StartTime": "datetime", "EndTime": "datetime",
                        "ProcessingEndTime": "datetime", "IsIncident": "bool", "ConfidenceScore": "real"}


def _split(text: str, sep: str) -> list[str]:
    parts, cur, quote, depth = [], "", None, 0
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if quote or depth:
        raise KqlError("unbalanced quotes or parentheses")
    parts.append(cur.strip())
    return parts


def _value(raw: str) -> Any:
    raw = raw.strip()
    if m := re.fullmatch(r"datetime\(\s*['\"]?([^'\")]+?)['\"]?\s*\)", raw):
        v = m.group(1)
        v = v if v.endswith("Z") else v + "Z"
        try:
            return ("dt", ts_key(v))
        except ValueError:
            raise KqlError(f"invalid datetime literal {raw}") from None
    if raw[:1] in "'\"" and raw[-1:] == raw[:1]:
        return raw[1:-1]
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return float(raw)
    except ValueError:
        return ("col", raw)


def _cell(row: dict[str, Any], value: Any) -> Any:
    if isinstance(value, tuple) and value[0] == "col":
        if value[1] not in row:
            raise KqlError(f"Failed to resolve scalar expression named '{value[1]}'")
        value = row[value[1]]
    if isinstance(value, str) and TIMESTAMP.match(value):
        return ("dt", ts_key(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


_COND = re.compile(r"^(.+?)\s*(==|!=|>=|<=|>|<)\s*(.+)$")


def _where(rows: list[dict[str, Any]], expr: str) -> list[dict[str, Any]]:
    conds = []
    for clause in re.split(r"\s+and\s+", expr.strip()):
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")") and _split(clause[1:-1], "\0") == [clause[1:-1].strip()]:
            clause = clause[1:-1].strip()
        m = _COND.match(clause)
        if not m:
            raise KqlError(f"Syntax error: unexpected where clause '{clause}'")
        conds.append((_value(m.group(1)), m.group(2), _value(m.group(3))))
    out = []
    for r in rows:
        keep = True
        for left, op, right in conds:
            a, b = _cell(r, left), _cell(r, right)
            if a is None or b is None or type(a) is not type(b):
                keep = op == "!="
            else:
                keep = {"==": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]
            if not keep:
                break
        if keep:
            out.append(r)
    return out


def run_kql(query: str, tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    stages = _split(query, "|")
    source = stages[0].strip()
    if source not in tables:
        raise KqlError(f"'{source}' operator: Failed to resolve table or column expression named '{source}'")
    rows = [dict(r) for r in tables[source]]
    for stage in stages[1:]:
        op, _, rest = stage.partition(" ")
        rest = rest.strip()
        if op == "where":
            rows = _where(rows, rest)
        elif op == "summarize":
            m = re.fullmatch(r"arg_max\(\s*(\w+)\s*,\s*\*\s*\)\s+by\s+(\w+)", rest)
            if not m:
                raise KqlError("only 'summarize arg_max(Col, *) by Key' is supported by this simulator")
            col, key = m.groups()
            best: dict[Any, dict[str, Any]] = {}
            for r in rows:
                cur = best.get(r[key])
                if cur is None or _cell(r, ("col", col)) >= _cell(cur, ("col", col)):
                    best[r[key]] = r
            rows = list(best.values())
        elif op in ("sort", "order"):
            if not rest.startswith("by "):
                raise KqlError(f"Syntax error: expected 'by' after '{op}'")
            for part in reversed(_split(rest[3:], ",")):
                bits = part.split()
                col, direction = bits[0], (bits[1] if len(bits) > 1 else "desc")
                if direction not in ("asc", "desc"):
                    raise KqlError(f"Syntax error near '{part}'")
                rows.sort(key=lambda r: (_cell(r, ("col", col)) is None, _cell(r, ("col", col)) or 0),
                          reverse=direction == "desc")
        elif op == "serialize":
            m = re.fullmatch(r"(\w+)\s*=\s*row_number\(\)", rest)
            if not m:
                raise KqlError("only 'serialize Name = row_number()' is supported by this simulator")
            for i, r in enumerate(rows, 1):
                r[m.group(1)] = i
        elif op in ("take", "limit"):
            try:
                rows = rows[:int(rest)]
            except ValueError:
                raise KqlError(f"'{op}' expects a number") from None
        elif op == "project-away":
            drop = {c.strip() for c in rest.split(",")}
            rows = [{k: v for k, v in r.items() if k not in drop} for r in rows]
        elif op == "project":
            keep = [c.strip() for c in rest.split(",")]
            rows = [{k: r.get(k) for k in keep} for r in rows]
        else:
            raise KqlError(f"Syntax error: unsupported operator '{op}'")
    return rows


def _kql_type(name: str, value: Any) -> str:
    if name in SECURITY_ALERT_TYPES:
        return SECURITY_ALERT_TYPES[name]
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "real"
    return "string"


# --- app ------------------------------------------------------------------------------------


class SentinelSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, incidents: int | None = None,
                 security_alerts: int | None = None, malformed: int = 0, per_timestamp: int = 2,
                 client_id: str = DEMO_CLIENT_ID, client_secret: str = DEMO_CLIENT_SECRET,
                 subscription_id: str = "00000000-1111-2222-3333-444444444444", resource_group: str = "rg-soc",
                 workspace_name: str = "law-sentinel", workspace_id: str = "5a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                 token_ttl: int = 3599, rate_limit: int = 12000, rate_window_seconds: float = 3600.0,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.scope = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}"
                      f"/providers/Microsoft.OperationalInsights/workspaces/{workspace_name}")
        self.workspace_id = workspace_id
        self.tenant = str(uuid.UUID(int=random.Random(seed).getrandbits(128)))
        self.options = dict(seed=seed, **record_counts(records, incidents=incidents, security_alerts=security_alerts),
                            malformed=malformed, per_timestamp=per_timestamp, scope=self.scope, tenant=self.tenant,
                            replay=replay)
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self.tokens: dict[str, tuple[float, str]] = {}
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = SentinelData(**self.options)
        self.tokens.clear()
        self.tokens_issued = 0

    # -- shared helpers ----------------------------------------------------------------------

    @staticmethod
    def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)

    def _route(self, path: str) -> str | None:
        """The path below the workspace (counted too, so tests need not know the scope)."""
        if path.lower().startswith(self.scope.lower()):
            return path[len(self.scope):]
        if path.startswith(f"/v1/workspaces/{self.workspace_id}"):
            return path[len(f"/v1/workspaces/{self.workspace_id}"):]
        return None

    def _throttle(self, request: Request) -> tuple[JSONResponse | None, dict[str, str]]:
        gate = self.control.admit(request, route=self._route(request.url.path))
        headers = {"x-ms-ratelimit-remaining-subscription-reads": str(gate.remaining),
                   "x-ms-request-id": str(uuid.uuid4()), "x-ms-correlation-request-id": str(uuid.uuid4())}
        if gate.status == 429:
            return self.arm_error(429, "TooManyRequests", "The request is being throttled.",
                                  {**headers, "Retry-After": str(gate.retry_after)}), headers
        if gate.status is not None:
            return self.arm_error(gate.status, "InternalServerError" if gate.status == 500 else "ServiceUnavailable",
                                  "Encountered internal server error. Please try again.", headers), headers
        return None, headers

    def _bearer(self, request: Request, scopes: tuple[str, ...], headers: dict[str, str]) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth[:7].lower() == "bearer " else ""
        entry = self.tokens.get(token)
        if not token:
            return self.arm_error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is "
                                  "missing.", {**headers, "WWW-Authenticate": 'Bearer authorization_uri="https://login.'
                                               'microsoftonline.com/common", error="invalid_token"'})
        if entry is None or entry[0] < time.monotonic():
            return self.arm_error(401, "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier "
                                  "than current UTC time.", {**headers, "WWW-Authenticate": 'Bearer error="invalid_token"'})
        if entry[1] not in scopes:
            return self.arm_error(401, "InvalidAuthenticationTokenAudience", "The access token has been obtained for "
                                  "wrong audience or resource.", headers)
        return None

    def guard(self, request: Request, scopes: tuple[str, ...]) -> tuple[JSONResponse | None, dict[str, str]]:
        """Faults and the read budget first, then the bearer token (its audience one of ``scopes``)."""
        denied, headers = self._throttle(request)
        return denied or self._bearer(request, scopes, headers), headers

    # -- endpoints ----------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        self.control.requests[request.url.path] += 1  # the token endpoint (Entra ID) is outside the ARM budget
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        tenant = request.path_params["tenant"]
        base = {"timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}
        if not re.match(r"^([0-9a-fA-F-]{36}|[\w.-]+\.[a-z]{2,})$", tenant):
            return JSONResponse({"error": "invalid_request", "error_description":
                                 f"AADSTS90002: Tenant '{tenant}' not found.", "error_codes": [90002], **base}, 400)
        if form.get("client_id") != self.client_id:
            return JSONResponse({"error": "unauthorized_client", "error_description":
                                 "AADSTS700016: Application was not found in the directory.", "error_codes": [700016],
                                 **base}, 400)
        if form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description":
                                 "AADSTS7000215: Invalid client secret provided.", "error_codes": [7000215], **base},
                                401)
        scope = form.get("scope")
        if form.get("grant_type") != "client_credentials" or scope not in ARM_SCOPES + LA_SCOPES:
            return JSONResponse({"error": "invalid_scope", "error_description":
                                 "AADSTS1002012: The provided value for scope is not valid.", "error_codes": [1002012],
                                 **base}, 400)
        token = _secrets.token_urlsafe(32)
        self.tokens[token] = (time.monotonic() + self.token_ttl, scope)
        self.tokens_issued += 1
        return JSONResponse({"token_type": "Bearer", "expires_in": self.token_ttl, "ext_expires_in": self.token_ttl,
                             "access_token": token})

    def _scope_ok(self, request: Request) -> bool:
        p = request.path_params
        scope = (f"/subscriptions/{p['sub']}/resourceGroups/{p['rg']}/providers/Microsoft.OperationalInsights"
                 f"/workspaces/{p['ws']}")
        return scope.lower() == self.scope.lower()

    async def incidents(self, request: Request) -> Response:
        denied, headers = self.guard(request, ARM_SCOPES)
        if denied:
            return denied
        q = request.query_params
        version = q.get("api-version")
        if not version:
            return self.arm_error(400, "MissingApiVersionParameter", "The api-version query parameter "
                                  "(?api-version=) is required for all requests.", headers)
        if version not in INCIDENT_API_VERSIONS:
            return self.arm_error(400, "InvalidApiVersionParameter", f"The api-version '{version}' is invalid.", headers)
        if not self._scope_ok(request):
            return self.arm_error(404, "ResourceNotFound", "The Resource 'Microsoft.OperationalInsights/workspaces/"
                                  f"{request.path_params['ws']}' under resource group '{request.path_params['rg']}' "
                                  "was not found.", headers)
        try:
            top = int(q.get("$top", "50"))
            if not 1 <= top <= 1000:
                raise ValueError
            rows = _odata(list(self.data.incidents.values()), q.get("$filter"), q.get("$orderby"))
            skip = 0
            if q.get("$skipToken"):
                tok = json.loads(base64.urlsafe_b64decode(q["$skipToken"].encode()))
                skip = int(tok["skip"])
        except (KqlError, ValueError, KeyError, TypeError) as exc:
            return self.arm_error(400, "BadRequest", f"Invalid request: {exc}" if str(exc) else "Invalid $top or "
                                  "$skipToken", headers)
        page = rows[skip:skip + top]
        body: dict[str, Any] = {"value": page}
        if skip + top < len(rows):
            token = base64.urlsafe_b64encode(json.dumps({"skip": skip + top}).encode()).decode()
            params = {k: v for k, v in q.items() if k != "$skipToken"}
            params["$skipToken"] = token
            body["nextLink"] = f"{request.url.scheme}://{request.url.netloc}{request.url.path}?{urlencode(params)}"
        return JSONResponse(body, headers=headers)

    async def _query(self, request: Request, headers: dict[str, str]) -> Response:
        if request.method == "POST":
            try:
                body = json.loads(await request.body())
                query = body["query"]
            except Exception:
                return JSONResponse({"error": {"message": "The request had some invalid properties",
                                               "code": "BadArgumentError", "correlationId": str(uuid.uuid4()),
                                               "innererror": {"code": "QueryValidationError",
                                                              "message": "'query' is required"}}}, 400, headers)
        else:
            query = request.query_params.get("query", "")
        try:
            rows = run_kql(query, {"SecurityAlert": self.data.alert_rows})
        except KqlError as exc:
            return JSONResponse({"error": {"message": "The request had some invalid properties",
                                           "code": "BadArgumentError", "correlationId": str(uuid.uuid4()),
                                           "innererror": {"code": "SyntaxError", "message": str(exc)}}}, 400, headers)
        names: list[str] = []
        for r in rows:
            names.extend(k for k in r if k not in names)
        if not rows:
            names = list(self.data.alert_rows[0]) if self.data.alert_rows else []
        sample = {n: next((r.get(n) for r in rows if r.get(n) is not None), None) for n in names}
        columns = [{"name": n, "type": _kql_type(n, sample[n])} for n in names]
        return JSONResponse({"tables": [{"name": "PrimaryResult", "columns": columns,
                                         "rows": [[r.get(n) for n in names] for r in rows]}]}, headers=headers)

    async def arm_query(self, request: Request) -> Response:
        denied, headers = self.guard(request, ARM_SCOPES)
        if denied:
            return denied
        version = request.query_params.get("api-version")
        if version not in QUERY_API_VERSIONS:
            return self.arm_error(400, "MissingApiVersionParameter" if not version else "InvalidApiVersionParameter",
                                  "A supported api-version query parameter is required.", headers)
        if not self._scope_ok(request):
            return self.arm_error(404, "ResourceNotFound", "The workspace was not found.", headers)
        return await self._query(request, headers)

    async def la_query(self, request: Request) -> Response:
        denied, headers = self.guard(request, LA_SCOPES)
        if denied:
            return denied
        if request.path_params["workspace_id"] != self.workspace_id:
            return JSONResponse({"error": {"message": "The workspace could not be found", "code": "WorkspaceNotFoundError",
                                           "correlationId": str(uuid.uuid4())}}, 404, headers)
        return await self._query(request, headers)

    # -- control ------------------------------------------------------------------------------

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {"incidents": Stream(d.incidents, d.malformed["incidents"], d.add_incident, partial(d.touch, "incidents"),
                                    id_field="name"),
                # Log Analytics is append-only: the stream is each alert's latest row.
                "security_alerts": Stream(d.latest_alerts(), d.malformed["security_alerts"], d.add_alert,
                                          partial(d.touch, "security_alerts"), id_field="SystemAlertId")}

    def counters(self) -> dict[str, Any]:
        return {"tokens_issued": self.tokens_issued}

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def routes(self) -> list[Route]:
        ws = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.OperationalInsights/workspaces/{ws}"
        return [
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
            Route(ws + "/providers/Microsoft.SecurityInsights/incidents", self.incidents, methods=["GET"]),
            Route(ws + "/api/query", self.arm_query, methods=["GET", "POST"]),
            Route("/v1/workspaces/{workspace_id}/query", self.la_query, methods=["GET", "POST"]),
        ]


# --- OData for ARM list ----------------------------------------------------------------------

_ODATA = re.compile(r"^\s*([\w/]+)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|\S+)\s*$", re.I)


def _prop(rec: dict[str, Any], path: str) -> Any:
    cur: Any = rec
    for part in path.split("/"):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if isinstance(cur, str) and TIMESTAMP.match(cur):
        return ("dt", ts_key(cur))
    if isinstance(cur, (int, float)) and not isinstance(cur, bool):
        return float(cur)
    return cur


def _odata(rows: list[dict[str, Any]], flt: str | None, orderby: str | None) -> list[dict[str, Any]]:
    if flt:
        preds = []
        for term in re.split(r"\s+and\s+", flt.strip(), flags=re.I):
            m = _ODATA.match(term.strip("() "))
            if not m:
                raise KqlError(f"invalid $filter clause '{term}'")
            raw = m.group(3)
            if raw.startswith("'"):
                want: Any = raw[1:-1].replace("''", "'")
            elif re.match(r"^\d{4}-\d{2}-\d{2}T", raw):
                want = ("dt", ts_key(raw if raw.endswith("Z") else raw + "Z"))
            else:
                want = float(raw)
            preds.append((m.group(1), m.group(2).lower(), want))

        def ok(r: dict[str, Any]) -> bool:
            for path, op, want in preds:
                have = _prop(r, path)
                if op in ("eq", "ne"):
                    if (have == want) != (op == "eq"):
                        return False
                elif have is None or type(have) is not type(want) or not {
                        "gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]:
                    return False
            return True

        rows = [r for r in rows if ok(r)]
    rows = sorted(rows, key=lambda r: r["name"])
    for part in reversed([p.strip() for p in (orderby or "").split(",") if p.strip()]):
        bits = part.split()
        direction = bits[1].lower() if len(bits) > 1 else "asc"
        rows.sort(key=lambda r: (_prop(r, bits[0]) is None, _prop(r, bits[0]) or 0), reverse=direction == "desc")
    return rows


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (both streams), incidents, security_alerts, malformed, per_timestamp,
    client_id, client_secret, subscription_id, resource_group, workspace_name, workspace_id,
    token_ttl, rate_limit, rate_window_seconds, replay ({stream: [real records]}: those records instead
    of seeded ones; SecurityAlert rows as column -> value objects, see ``corpus_records``)."""
    return SentinelSimulator(**options).app()


def corpus_records(target: str, case: dict[str, Any]) -> list[dict[str, Any]]:
    """The records a corpus case holds: incidents at ``value``; the Logs query API answers a table,
    whose rows become column -> value objects (the form the simulator's SecurityAlert table keeps)."""
    body = case["response"]["body"]
    if target == "security_alerts":
        table = body["tables"][0]
        names = [c["name"] for c in table["columns"]]
        return [dict(zip(names, row)) for row in table["rows"]]
    return list(body["value"])
