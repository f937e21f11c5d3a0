"""Simulator of the Microsoft Defender for Endpoint API subset the connector uses.

Faithful to Microsoft's public documentation (field names, enums, OData envelope, errors):

* Auth - https://learn.microsoft.com/en-us/defender-endpoint/api/exposed-apis-create-app-webapp :
  Microsoft Entra ID client credentials, ``POST https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token``
  (form ``client_id``, ``client_secret``, ``grant_type=client_credentials``,
  ``scope=https://api.securitycenter.microsoft.com/.default``) -> ``{"token_type": "Bearer",
  "expires_in": 3599, "ext_expires_in": 3599, "access_token"}``; a wrong secret is
  ``401 {"error": "invalid_client", "error_description": "AADSTS7000215: ...", "error_codes": [7000215], ...}``,
  an unknown tenant ``400 invalid_request`` (AADSTS90002). The token's audience must be the MDE API.
* OData - https://learn.microsoft.com/en-us/defender-endpoint/api/exposed-apis-odata-samples :
  ``$filter`` (alerts: alertCreationTime, lastUpdateTime, incidentId, status, severity, category;
  machines: computerDnsName, lastSeen, healthStatus, osPlatform, onboardingStatus, riskScore,
  exposureLevel, rbacGroupId; indicators: indicatorValue, indicatorType, creationTimeDateTimeUtc,
  createdBy, severity, action), ``$top``, ``$skip``, ``$orderby``; envelope
  ``{"@odata.context": ".../api/$metadata#Alerts", "value": [...]}`` (records and envelopes as the
  corpus recorded them).
* Alerts - https://learn.microsoft.com/en-us/defender-endpoint/api/get-alerts and
  https://learn.microsoft.com/en-us/defender-endpoint/api/alerts : ``GET /api/alerts`` ($top max
  10 000); severity UnSpecified/Informational/Low/Medium/High, status Unknown/New/InProgress/Resolved,
  classification, determination, detectionSource, category, alertCreationTime, firstEventTime,
  lastEventTime, lastUpdateTime, resolvedTime, machineId, computerDnsName, mitreTechniques, ...
* Machines - https://learn.microsoft.com/en-us/defender-endpoint/api/get-machines and
  https://learn.microsoft.com/en-us/defender-endpoint/api/machine : ``GET /api/machines`` ($top max
  10 000); healthStatus Active/Inactive/ImpairedCommunication/NoSensorData/..., riskScore and
  exposureLevel None/Informational/Low/Medium/High, osPlatform, version, ipAddresses[].
* Vulnerabilities - https://learn.microsoft.com/en-us/defender-endpoint/api/get-all-vulnerabilities :
  ``GET /api/vulnerabilities`` ($top max 8 000; $filter on id, name, description, cvssV3,
  publishedOn, severity, updatedOn); id is the CVE id, or Defender's own ``TVM-…`` id for a
  weakness without one.
* Indicators - https://learn.microsoft.com/en-us/defender-endpoint/api/get-ti-indicators-collection :
  ``GET /api/indicators``; indicatorType FileSha1/FileSha256/FileMd5/CertificateThumbprint/IpAddress/
  DomainName/Url, action Warn/Block/Audit/Alert/AlertAndBlock/BlockAndRemediate/Allowed.
* Update alert - https://learn.microsoft.com/en-us/defender-endpoint/api/update-alert :
  ``PATCH /api/alerts/{id}`` with any of ``status`` (New/InProgress/Resolved), ``assignedTo``,
  ``classification`` (TruePositive/InformationalExpectedActivity/FalsePositive), ``determination``,
  ``comment`` -> 200 and the updated alert (``lastUpdateTime`` moves, a comment is appended to
  ``comments``); an unknown id is ``404 NotFound``.
* Errors: ``{"error": {"code": "Unauthorized"|"Forbidden"|"BadRequest"|"TooManyRequests"|...,
  "message", "target"}}``. Throttling (100 calls/minute, 1500/hour per app) is 429 with
  ``Retry-After`` - https://learn.microsoft.com/en-us/defender-endpoint/api/api-terms-of-use

Timestamps carry 7 fractional digits and ``Z`` like the real API. Demo credentials: tenant any
GUID, client id ``demo-client-id``, secret ``demo-client-secret``.
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import secrets as _secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, TIMESTAMP, fmt7, record_counts, ts_key

DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
AUDIENCES = ("https://api.securitycenter.microsoft.com/.default", "https://api.security.microsoft.com/.default")
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STREAMS = ("alerts", "machines", "vulnerabilities", "indicators")

IOC_TYPES = ["FileSha256", "FileSha1", "FileMd5", "IpAddress", "DomainName", "Url"]


class MdeData(SeededData):
    """Deterministic tenant; ``per_timestamp`` records share one cursor timestamp. Records are the
    recorded ones of the corpus (``records_for``) taken in turn, deep-copied, with their identity,
    cursor time and names varied: every field path and JSON type is one Defender returned.
    ``replay``: exactly those records per stream, stored by their ``id`` (the key the API itself
    addresses records by), nothing seeded."""

    def __init__(self, seed: int, counts: dict[str, int], malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.tenant = str(uuid.UUID(int=random.Random(seed).getrandbits(128)))
        self.tables: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in STREAMS}
        if replay is not None:
            for stream, records in replay.items():
                self.tables[stream].update((str(r["id"]), copy.deepcopy(r)) for r in records)
            return
        self.templates = {s: records_for("microsoft_defender_endpoint", s) for s in STREAMS}
        for _ in range(max(counts["machines"], 1) if counts["alerts"] else counts["machines"]):
            self.add("machines")
        for s in ("alerts", "vulnerabilities", "indicators"):
            for _ in range(counts[s]):
                self.add(s)
        for _ in range(malformed):
            self.add("alerts", malformed=True)

    def ts(self, stream: str) -> str:
        bucket = self.step(stream)
        return fmt7(T0 + timedelta(minutes=bucket), bucket * 1234567)

    def template(self, stream: str) -> dict[str, Any]:
        """The next recorded record of ``stream`` (in turn), as a copy to vary."""
        records = self.templates[stream]
        return copy.deepcopy(records[self.seq[stream] % len(records)])

    def add(self, stream: str, malformed: bool = False) -> dict[str, Any]:
        rec = self.template(stream)
        rec = getattr(self, f"_vary_{stream}")(rec, self.ts(stream))
        if malformed:
            self.malformed[stream] += 1
            {"alerts": lambda r: r.update(severity="Severe?", title=None),
             "machines": lambda r: r.update(computerDnsName=None),
             "vulnerabilities": lambda r: r.update(severity="Extreme", name=None),
             "indicators": lambda r: r.update(indicatorType="Registry", severity=None)}[stream](rec)
        self.tables[stream][rec["id"]] = rec
        return rec

    def _vary_machines(self, rec: dict[str, Any], ts: str) -> dict[str, Any]:
        rng = self.rng
        n = len(self.tables["machines"])
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        rec.update(id=hashlib.sha1(f"{self.tenant}-machine-{n}".encode()).hexdigest(),
                   computerDnsName=f"wks-{n:04d}.corp.contoso.com", lastSeen=ts, lastIpAddress=ip,
                   lastExternalIpAddress=f"203.0.113.{rng.randrange(1, 255)}",
                   firstSeen=fmt7(T0 - timedelta(days=rng.randrange(30, 400)), rng.randrange(10**7)),
                   healthStatus=rng.choice(["Active", "Active", "Active", "Inactive", "ImpairedCommunication"]))
        for i, addr in enumerate(rec.get("ipAddresses") or []):
            if i == 0 or ":" not in addr["ipAddress"]:
                addr["ipAddress"] = ip if i == 0 else f"10.{rng.randrange(256)}.{rng.randrange(256)}.{i}"
        return rec

    def _vary_alerts(self, rec: dict[str, Any], ts: str) -> dict[str, Any]:
        rng = self.rng
        machines = self.tables["machines"]
        if not machines:
            self.add("machines")
        m = machines[sorted(machines)[rng.randrange(len(machines))]]
        n = self.seq["alerts"]
        created = fmt7(datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
                       - timedelta(minutes=rng.randrange(0, 30)), rng.randrange(10**7))
        rec.update(id=f"da{637000000000000000 + n * 7919}_{rng.randrange(-2**31, 2**31)}", incidentId=1000 + n,
                   severity=rng.choice(["Informational", "Low", "Medium", "Medium", "High"]),
                   alertCreationTime=created, firstEventTime=created, lastEventTime=created, lastUpdateTime=ts,
                   machineId=m["id"])
        # a resolved recording stays resolved (with its resolvedTime), an open one open
        if rec.get("resolvedTime") is not None:
            rec.update(status="Resolved", resolvedTime=ts)
        else:
            rec["status"] = rng.choice(["New", "New", "InProgress"])
        if "computerDnsName" in rec:
            rec["computerDnsName"] = m["computerDnsName"]
        return rec

    def _vary_vulnerabilities(self, rec: dict[str, Any], ts: str) -> dict[str, Any]:
        rng = self.rng
        n = self.seq["vulnerabilities"]
        # a CVE record stays a CVE; a record named by Defender (TVM-…) keeps that kind of id
        vid = f"CVE-{2021 + n % 4}-{20000 + n * 37}" if rec["id"].startswith("CVE-") else f"TVM-{2020 + n % 4}-{n:04d}"
        cvss = round(rng.uniform(2.0, 10.0), 1)
        rec.update(id=vid, name=vid, updatedOn=ts, cvssV3=cvss, exposedMachines=rng.randrange(0, 40),
                   severity="Critical" if cvss >= 9 else "High" if cvss >= 7 else "Medium" if cvss >= 4 else "Low")
        return rec

    def _vary_indicators(self, rec: dict[str, Any], ts: str) -> dict[str, Any]:
        n = self.seq["indicators"]
        kind = IOC_TYPES[n % len(IOC_TYPES)]
        h = hashlib.sha256(f"{self.tenant}-ioc-{n}".encode()).hexdigest()
        value = {"FileSha256": h, "FileSha1": h[:40], "FileMd5": h[:32],
                 "IpAddress": f"198.51.100.{n % 250 + 1}", "DomainName": f"bad-{n}.example.net",
                 "Url": f"https://bad-{n}.example.net/payload"}[kind]
        rec.update(id=str(5000 + n), indicatorValue=value, indicatorType=kind, title=f"Known bad {kind}",
                   creationTimeDateTimeUtc=ts, lastUpdateTime=ts,
                   severity=self.rng.choice(["Informational", "Low", "Medium", "High"]))
        return rec

    def touch(self, stream: str, count: int) -> list[str]:
        field = CURSOR_FIELD[stream]
        rows = sorted(self.tables[stream].values(), key=lambda r: (ts_key(r[field]), r["id"]))
        out = []
        for r in rows[:count]:
            ts = self.ts(stream)
            if stream == "alerts":
                r["lastUpdateTime"] = ts
                r["status"] = "InProgress" if r["status"] != "InProgress" else "Resolved"
            elif stream == "machines":
                r["lastSeen"] = ts
                r["healthStatus"] = "Inactive" if r["healthStatus"] == "Active" else "Active"
            elif stream == "vulnerabilities":
                r["updatedOn"] = ts
                r["exposedMachines"] += 1
            else:  # indicators: updates move lastUpdateTime only (creationTimeDateTimeUtc is fixed)
                r["lastUpdateTime"] = ts
                r["action"] = "Block"
            out.append(r["id"])
        return out


UPDATABLE = {"status", "assignedTo", "classification", "determination", "comment"}
ALERT_STATUSES = ("New", "InProgress", "Resolved")
CLASSIFICATIONS = ("TruePositive", "InformationalExpectedActivity", "FalsePositive")
CURSOR_FIELD = {"alerts": "lastUpdateTime", "machines": "lastSeen", "vulnerabilities": "updatedOn",
                "indicators": "creationTimeDateTimeUtc"}
ENTITY_SET = {"alerts": "Alerts", "machines": "Machines", "vulnerabilities": "Vulnerabilities", "indicators": "Indicators"}
MAX_TOP = {"alerts": 10000, "machines": 10000, "vulnerabilities": 8000, "indicators": 10000}
FILTERABLE = {
    "alerts": {"alertCreationTime", "lastUpdateTime", "incidentId", "investigationId", "status", "severity", "category", "id"},
    "machines": {"computerDnsName", "lastSeen", "healthStatus", "osPlatform", "onboardingStatus", "riskScore",
                 "exposureLevel", "rbacGroupId", "id", "version", "deviceValue", "aadDeviceId"},
    "vulnerabilities": {"id", "name", "description", "cvssV3", "publishedOn", "severity", "updatedOn"},
    "indicators": {"indicatorValue", "indicatorType", "creationTimeDateTimeUtc", "createdBy", "severity", "action"},
}


# --- OData ----------------------------------------------------------------------------------


class ODataError(ValueError):
    pass


_CMP = re.compile(r"^\s*([A-Za-z_][\w/]*)\s+(eq|ne|gt|ge|lt|le)\s+('(?:[^']|'')*'|[^\s]+)\s*$", re.I)


def _literal(raw: str) -> Any:
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    if raw in ("true", "false"):
        return raw == "true"
    if raw == "null":
        return None
    if re.match(r"^\d{4}-\d{2}-\d{2}T", raw):
        v = raw if raw.endswith("Z") else raw + "Z"
        try:
            return ("ts", ts_key(v))
        except ValueError:
            raise ODataError(f"invalid datetime literal {raw}") from None
    try:
        return float(raw)
    except ValueError:
        raise ODataError(f"invalid literal {raw}") from None


def _canon(value: Any) -> Any:
    if isinstance(value, str) and TIMESTAMP.match(value):
        return ("ts", ts_key(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def odata_filter(records: list[dict[str, Any]], expr: str | None, allowed: set[str]) -> list[dict[str, Any]]:
    if not expr:
        return records
    preds = []
    for term in re.split(r"\s+and\s+", expr.strip(), flags=re.I):
        m = _CMP.match(term.strip("() "))
        if not m:
            raise ODataError(f"Invalid filter clause: {term}")
        field, op, raw = m.group(1), m.group(2).lower(), m.group(3)
        match = {f.lower(): f for f in allowed}.get(field.lower())
        if match is None:
            raise ODataError(f"Invalid filter: property '{field}' is not supported for filtering")
        preds.append((match, op, _literal(raw)))

    def ok(r: dict[str, Any]) -> bool:
        for field, op, want in preds:
            have = _canon(r.get(field))
            if isinstance(have, str) and isinstance(want, str):
                have, want = have.lower(), want.lower()
            if op in ("eq", "ne"):
                if (have == want) != (op == "eq"):
                    return False
                continue
            if have is None or type(have) is not type(want):
                return False
            if not {"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op]:
                return False
        return True

    return [r for r in records if ok(r)]


def odata_orderby(records: list[dict[str, Any]], orderby: str | None) -> list[dict[str, Any]]:
    out = sorted(records, key=lambda r: r["id"])  # the service's stable default order
    if not orderby:
        return out
    for part in reversed([p.strip() for p in orderby.split(",") if p.strip()]):
        bits = part.split()
        field, direction = bits[0], (bits[1].lower() if len(bits) > 1 else "asc")
        if direction not in ("asc", "desc"):
            raise ODataError(f"Invalid $orderby: {part}")
        out.sort(key=lambda r: (r.get(field) is None, _canon(r.get(field)) if r.get(field) is not None else 0),
                 reverse=direction == "desc")
    return out


# --- app ------------------------------------------------------------------------------------


class MdeSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, alerts: int | None = None,
                 machines: int | None = None, vulnerabilities: int | None = None, indicators: int | None = None,
                 malformed: int = 0, per_timestamp: int = 2, client_id: str = DEMO_CLIENT_ID,
                 client_secret: str = DEMO_CLIENT_SECRET, token_ttl: int = 3599, rate_limit: int = 100,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        counts = record_counts(records, alerts=alerts, machines=machines, vulnerabilities=vulnerabilities,
                               indicators=indicators)
        self.options = dict(seed=seed, counts=counts, malformed=malformed, per_timestamp=per_timestamp, replay=replay)
        self.client_id, self.client_secret, self.token_ttl = client_id, client_secret, token_ttl
        self.tokens: dict[str, float] = {}
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = MdeData(**self.options)
        self.tokens.clear()
        self.tokens_issued = 0

    @staticmethod
    def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message, "target": str(uuid.uuid4())}},
                            status_code=status, headers=headers)

    def _faults(self, request: Request) -> JSONResponse | None:
        gate = self.control.admit(request)
        if gate.status == 429:
            return self.error(429, "TooManyRequests", "Rate limit is exceeded. Try again later.",
                              {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return self.error(gate.status, "InternalServerError" if gate.status == 500 else "ServiceUnavailable",
                              "An error occurred while processing the request.")
        return None

    async def token(self, request: Request) -> Response:
        denied = self._faults(request)
        if denied:
            return denied
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        tenant = request.path_params["tenant"]
        base = {"timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"),
                "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}
        try:
            uuid.UUID(tenant)
        except ValueError:
            if not re.match(r"^[\w.-]+\.[a-z]{2,}$", tenant):
                return JSONResponse({"error": "invalid_request", "error_description":
                                     f"AADSTS90002: Tenant '{tenant}' not found.", "error_codes": [90002], **base},
                                    status_code=400)
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type", "error_description":
                                 "AADSTS70003: The app requested an unsupported grant type.", "error_codes": [70003],
                                 **base}, status_code=400)
        if form.get("client_id") != self.client_id:
            return JSONResponse({"error": "unauthorized_client", "error_description":
                                 f"AADSTS700016: Application with identifier '{form.get('client_id')}' was not found "
                                 f"in the directory.", "error_codes": [700016], **base}, status_code=400)
        if form.get("client_secret") != self.client_secret:
            return JSONResponse({"error": "invalid_client", "error_description":
                                 "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                                 "request is the client secret value, not the client secret ID.",
                                 "error_codes": [7000215], **base}, status_code=401)
        if form.get("scope") not in AUDIENCES:
            return JSONResponse({"error": "invalid_scope", "error_description":
                                 "AADSTS1002012: The provided value for scope is not valid.",
                                 "error_codes": [1002012], **base}, status_code=400)
        token = _secrets.token_urlsafe(32)
        self.tokens[token] = time.monotonic() + self.token_ttl
        self.tokens_issued += 1
        return JSONResponse({"token_type": "Bearer", "expires_in": self.token_ttl, "ext_expires_in": self.token_ttl,
                             "access_token": token})

    def _unauthorized(self, request: Request) -> JSONResponse | None:
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth[:7].lower() == "bearer " else ""
        expires = self.tokens.get(token)
        if not token or expires is None or expires < time.monotonic():
            return self.error(401, "Unauthorized", "Authorization token is missing, invalid or expired.")
        return None

    async def update_alert(self, request: Request) -> Response:
        denied = self._faults(request) or self._unauthorized(request)
        if denied:
            return denied
        alert = self.data.tables["alerts"].get(request.path_params["id"])
        if alert is None:
            return self.error(404, "NotFound", f"Alert {request.path_params['id']} was not found")
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self.error(400, "BadRequest", "Request body is not valid JSON")
        if not isinstance(body, dict) or not body or set(body) - UPDATABLE:
            return self.error(400, "BadRequest", f"Updatable properties are: {', '.join(sorted(UPDATABLE))}")
        for name, allowed in (("status", ALERT_STATUSES), ("classification", CLASSIFICATIONS)):
            if name in body and body[name] not in allowed:
                return self.error(400, "BadRequest", f"Invalid value for {name}: {body[name]}")
        ts = self.data.ts("alerts")
        for name in ("status", "assignedTo", "classification", "determination"):
            if name in body:
                alert[name] = body[name]
        if body.get("status") == "Resolved":
            alert["resolvedTime"] = ts
        if body.get("comment"):
            alert.setdefault("comments", []).append({"comment": body["comment"], "createdBy": "aria-connector",
                                                     "createdTime": ts})
        alert["lastUpdateTime"] = ts
        fault = self.control.take_write_fault()
        if fault is not None:
            return self.error(fault.status, "ServiceUnavailable", "An error occurred while processing the request.")
        return JSONResponse(alert)

    def _list(self, stream: str):
        async def handler(request: Request) -> Response:
            denied = self._faults(request) or self._unauthorized(request)
            if denied:
                return denied
            q = request.query_params
            try:
                top = int(q.get("$top", str(MAX_TOP[stream])))
                skip = int(q.get("$skip", "0"))
            except ValueError:
                return self.error(400, "BadRequest", "Invalid $top or $skip value")
            if not 1 <= top <= MAX_TOP[stream] or skip < 0:
                return self.error(400, "BadRequest", f"$top must be between 1 and {MAX_TOP[stream]}")
            try:
                rows = odata_filter(list(self.data.tables[stream].values()), q.get("$filter"), FILTERABLE[stream])
                rows = odata_orderby(rows, q.get("$orderby"))
            except ODataError as exc:
                return self.error(400, "BadRequest", str(exc))
            origin = f"{request.url.scheme}://{request.url.netloc}"
            # no @odata.nextLink: no recorded answer of these endpoints paged by $skip shows one
            return JSONResponse({"@odata.context": f"{origin}/api/$metadata#{ENTITY_SET[stream]}",
                                 "value": rows[skip:skip + top]})

        return handler

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {s: Stream(d.tables[s], d.malformed[s], partial(d.add, s), partial(d.touch, s)) for s in STREAMS}

    def counters(self) -> dict[str, Any]:
        return {"tokens_issued": self.tokens_issued, "created": 0}  # alert updates create nothing

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def routes(self) -> list[Route]:
        return [
            Route("/{tenant}/oauth2/v2.0/token", self.token, methods=["POST"]),
            *[Route(f"/api/{s}", self._list(s), methods=["GET"]) for s in STREAMS],
            Route("/api/alerts/{id}", self.update_alert, methods=["PATCH"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (every stream), alerts, machines, vulnerabilities, indicators, malformed,
    per_timestamp, client_id, client_secret, token_ttl, rate_limit, rate_window_seconds, replay
    ({stream: recorded records}: serve exactly those, nothing seeded)."""
    return MdeSimulator(**options).app()
