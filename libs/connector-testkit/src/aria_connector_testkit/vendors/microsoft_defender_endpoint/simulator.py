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
  ``{"@odata.context": ".../api/$metadata#Alerts", "value": [...], "@odata.nextLink"?}``.
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
  publishedOn, severity, updatedOn); id is the CVE id.
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
from urllib.parse import parse_qs, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, TIMESTAMP, fmt7, record_counts, ts_key

DEMO_CLIENT_ID = "demo-client-id"
DEMO_CLIENT_SECRET = "demo-client-secret"
AUDIENCES = ("https://api.securitycenter.microsoft.com/.default", "https://api.security.microsoft.com/.default")
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STREAMS = ("alerts", "machines", "vulnerabilities", "indicators")

CATEGORIES = [("Execution", "T1059.001"), ("CredentialAccess", "T1003.001"), ("Persistence", "T1547.001"),
              ("DefenseEvasion", "T1027"), ("LateralMovement", "T1021.002"), ("Ransomware", "T1486")]
SOURCES = ["WindowsDefenderAtp", "WindowsDefenderAv", "CustomDetection", "AutomatedInvestigation"]
PLATFORMS = [("Windows11", "22H2", 22621), ("Windows10", "22H2", 19045), ("WindowsServer2022", "21H2", 20348),
             ("Linux", "Ubuntu 22.04", None), ("macOS", "14.4", None)]
PRODUCTS = [("microsoft", "windows_11"), ("google", "chrome"), ("apache", "log4j"), ("openssl", "openssl"),
            ("microsoft", "office"), ("mozilla", "firefox")]
IOC_TYPES = ["FileSha256", "FileSha1", "FileMd5", "IpAddress", "DomainName", "Url"]

class MdeData(SeededData):
    """Deterministic tenant; ``per_timestamp`` records share one cursor timestamp."""

    def __init__(self, seed: int, counts: dict[str, int], malformed: int = 0, per_timestamp: int = 2) -> None:
        super().__init__(seed, per_timestamp)
        self.tenant = str(uuid.UUID(int=random.Random(seed).getrandbits(128)))
        self.tables: dict[str, dict[str, dict[str, Any]]] = {s: {} for s in STREAMS}
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

    def add(self, stream: str, malformed: bool = False) -> dict[str, Any]:
        rec = getattr(self, f"_new_{stream}")(self.ts(stream))
        if malformed:
            self.malformed[stream] += 1
            {"alerts": lambda r: r.update(severity="Severe?", title=None),
             "machines": lambda r: r.update(computerDnsName=None),
             "vulnerabilities": lambda r: r.update(severity="Extreme", name=None),
             "indicators": lambda r: r.update(indicatorType="Registry", severity=None)}[stream](rec)
        self.tables[stream][rec["id"]] = rec
        return rec

    def _new_machines(self, ts: str) -> dict[str, Any]:
        rng = self.rng
        n = len(self.tables["machines"])
        platform, version, build = rng.choice(PLATFORMS)
        server = "Server" in platform or platform == "Linux"
        name = f"{'srv' if server else 'wks'}-{n:04d}.corp.contoso.com"
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        mac = "".join(f"{rng.randrange(256):02X}" for _ in range(6))
        machine_id = hashlib.sha1(f"{self.tenant}-machine-{n}".encode()).hexdigest()
        first = fmt7(T0 - timedelta(days=rng.randrange(30, 400)), rng.randrange(10**7))
        return {
            "id": machine_id,
            "computerDnsName": name,
            "firstSeen": first,
            "lastSeen": ts,
            "osPlatform": platform,
            "version": version,
            "osProcessor": "x64",
            "lastIpAddress": ip,
            "lastExternalIpAddress": f"203.0.113.{rng.randrange(1, 255)}",
            "agentVersion": f"10.8{rng.randrange(100, 999)}.{build or 0}.{rng.randrange(1000, 9999)}",
            "osBuild": build,
            "healthStatus": rng.choice(["Active", "Active", "Active", "Inactive", "ImpairedCommunication", "NoSensorData"]),
            "deviceValue": rng.choice(["Normal", "Normal", "High", "Low"]),
            "rbacGroupId": 140,
            "rbacGroupName": "The-A-Team",
            "riskScore": rng.choice(["None", "Informational", "Low", "Medium", "High"]),
            "exposureLevel": rng.choice(["None", "Low", "Medium", "High"]),
            "isAadJoined": platform.startswith("Windows"),
            "aadDeviceId": str(uuid.UUID(int=rng.getrandbits(128))) if platform.startswith("Windows") else None,
            "machineTags": rng.choice([[], ["prod"], ["prod", "pci"], ["test"]]),
            "defenderAvStatus": "Updated",
            "onboardingStatus": "Onboarded",
            "osArchitecture": "64-bit",
            "managedBy": "Intune" if platform.startswith("Windows") else "MicrosoftDefenderForEndpoint",
            "managedByStatus": "Success",
            "ipAddresses": [{"ipAddress": ip, "macAddress": mac, "type": "Ethernet", "operationalStatus": "Up"}],
            "vmMetadata": None,
        }

    def _new_alerts(self, ts: str) -> dict[str, Any]:
        rng = self.rng
        machines = self.tables["machines"]
        if not machines:
            self.add("machines")
        m = machines[sorted(machines)[rng.randrange(len(machines))]]
        n = self.seq["alerts"]
        category, technique = rng.choice(CATEGORIES)
        status = rng.choice(["New", "New", "InProgress", "Resolved"])
        created = fmt7(datetime.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
                       - timedelta(minutes=rng.randrange(0, 30)), rng.randrange(10**7))
        alert_id = f"da{637000000000000000 + n * 7919}_{rng.randrange(-2**31, 2**31)}"
        return {
            "id": alert_id,
            "incidentId": 1000 + n,
            "investigationId": rng.choice([None, 700 + n]),
            "assignedTo": rng.choice([None, "secop@contoso.com"]),
            "severity": rng.choice(["Informational", "Low", "Medium", "Medium", "High"]),
            "status": status,
            "classification": rng.choice([None, "TruePositive", "FalsePositive"]) if status == "Resolved" else None,
            "determination": rng.choice([None, "Malware", "SecurityTesting"]) if status == "Resolved" else None,
            "investigationState": rng.choice(["Running", "SuccessfullyRemediated", "UnsupportedAlertType"]),
            "detectionSource": rng.choice(SOURCES),
            "detectorId": str(uuid.UUID(int=rng.getrandbits(128))),
            "category": category,
            "threatFamilyName": rng.choice([None, "Mimikatz", "Emotet"]),
            "title": rng.choice(["Suspicious PowerShell command line", "Credential dumping activity observed",
                                 "Ransomware behavior detected in the file system", "Suspicious service registration"]),
            "description": f"A process on {m['computerDnsName']} exhibited {category} behavior.",
            "alertCreationTime": created,
            "firstEventTime": created,
            "lastEventTime": created,
            "lastUpdateTime": ts,
            "resolvedTime": ts if status == "Resolved" else None,
            "machineId": m["id"],
            "computerDnsName": m["computerDnsName"],
            "rbacGroupName": m["rbacGroupName"],
            "aadTenantId": self.tenant,
            "threatName": None,
            "mitreTechniques": [technique],
            "relatedUser": {"userName": rng.choice(["jdoe", "asmith"]), "domainName": "CONTOSO"},
            "loggedOnUsers": [{"accountName": "jdoe", "domainName": "CONTOSO"}],
            "comments": [],
            "evidence": [],
        }

    def _new_vulnerabilities(self, ts: str) -> dict[str, Any]:
        rng = self.rng
        n = self.seq["vulnerabilities"]
        cve = f"CVE-{2021 + n % 4}-{20000 + n * 37}"
        vendor, product = rng.choice(PRODUCTS)
        cvss = round(rng.uniform(2.0, 10.0), 1)
        severity = "Critical" if cvss >= 9 else "High" if cvss >= 7 else "Medium" if cvss >= 4 else "Low"
        published = fmt7(T0 - timedelta(days=rng.randrange(10, 900)))
        return {
            "id": cve,
            "name": cve,
            "description": f"Remote code execution vulnerability in {vendor} {product}.",
            "severity": severity,
            "cvssV3": cvss,
            "cvssVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "exposedMachines": rng.randrange(0, 40),
            "publishedOn": published,
            "updatedOn": ts,
            "firstDetected": published,
            "publicExploit": rng.random() < 0.3,
            "exploitVerified": False,
            "exploitInKit": False,
            "exploitTypes": [],
            "exploitUris": [],
            "cveSupportability": "Supported",
            "epss": round(rng.random(), 5),
            "tags": [],
        }

    def _new_indicators(self, ts: str) -> dict[str, Any]:
        rng = self.rng
        n = self.seq["indicators"]
        kind = IOC_TYPES[n % len(IOC_TYPES)]
        h = hashlib.sha256(f"{self.tenant}-ioc-{n}".encode()).hexdigest()
        value = {"FileSha256": h, "FileSha1": h[:40], "FileMd5": h[:32],
                 "IpAddress": f"198.51.100.{n % 250 + 1}", "DomainName": f"bad-{n}.example.net",
                 "Url": f"https://bad-{n}.example.net/payload"}[kind]
        return {
            "id": str(5000 + n),
            "indicatorValue": value,
            "indicatorType": kind,
            "action": rng.choice(["Alert", "AlertAndBlock", "Block", "Warn", "Audit"]),
            "application": None,
            "source": "aria-demo",
            "sourceType": "AadApp",
            "title": f"Known bad {kind}",
            "creationTimeDateTimeUtc": ts,
            "createdBy": "45097602-1234-4321-abcd-ee8ba4b7ffc2",
            "expirationTime": None,
            "lastUpdateTime": ts,
            "lastUpdatedBy": "45097602-1234-4321-abcd-ee8ba4b7ffc2",
            "severity": rng.choice(["Informational", "Low", "Medium", "High"]),
            "description": "Indicator from threat intelligence",
            "recommendedActions": "Isolate the machine",
            "rbacGroupNames": [],
            "rbacGroupIds": [],
            "generateAlert": True,
            "createdBySource": "PublicApi",
            "certificateInfo": None,
            "externalId": None,
            "mitreTechniques": [],
        }

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
                 rate_window_seconds: float = 60.0) -> None:
        counts = record_counts(records, alerts=alerts, machines=machines, vulnerabilities=vulnerabilities,
                               indicators=indicators)
        self.options = dict(seed=seed, counts=counts,
                            malformed=malformed, per_timestamp=per_timestamp)
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
            page = rows[skip:skip + top]
            origin = f"{request.url.scheme}://{request.url.netloc}"
            body: dict[str, Any] = {"@odata.context": f"{origin}/api/$metadata#{ENTITY_SET[stream]}", "value": page}
            if skip + top < len(rows):
                params = {k: v for k, v in q.items() if k != "$skip"}
                params["$skip"] = str(skip + top)
                body["@odata.nextLink"] = f"{origin}{request.url.path}?{urlencode(params)}"
            return JSONResponse(body)

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
    per_timestamp, client_id, client_secret, token_ttl, rate_limit, rate_window_seconds."""
    return MdeSimulator(**options).app()
