"""Simulator of the Tenable Vulnerability Management export API subset the connector uses.

Faithful to the public documentation:

* Auth - https://developer.tenable.com/docs/authorization : header
  ``X-ApiKeys: accessKey={access key};secretKey={secret key}``; a bad key pair gets
  401 ``{"statusCode": 401, "error": "Unauthorized", "message": "Invalid Credentials"}``.
  ``GET /session`` returns the calling user.
* Vulnerability export - https://developer.tenable.com/reference/exports-vulns-request-export ,
  https://developer.tenable.com/reference/exports-vulns-export-status ,
  https://developer.tenable.com/reference/exports-vulns-download-chunk ,
  https://developer.tenable.com/docs/refine-vulnerability-export-requests and
  https://developer.tenable.com/changelog/io-vm-exports-vulns-new-time-based-filter-indexed-at :
  ``POST /vulns/export`` ``{"num_assets": 50..5000 (outside the range the limit is used),
  "filters": {"state": [...], "severity": [...], "since", "indexed_at", "first_found",
  "last_found", "last_fixed"}}`` -> ``{"export_uuid"}``; without a ``state`` filter only
  OPEN and REOPENED findings are exported; ``since`` selects OPEN/REOPENED findings last
  found, and FIXED findings fixed, at or after it. ``GET /vulns/export/{uuid}/status`` ->
  ``{"status": QUEUED|PROCESSING|FINISHED|CANCELLED|ERROR, "chunks_available": [...],
  "chunks_failed", "chunks_cancelled", "total_chunks", "chunks_available_count",
  "empty_chunks_count", "finished_chunks", "filters", "num_assets_per_chunk", "created"}``;
  ``GET /vulns/export/{uuid}/chunks/{chunk_id}`` -> JSON array of findings. A chunk
  holds the findings of ``num_assets`` assets (grouped by asset, so chunks are not in
  time order). ``GET /vulns/export/status`` lists recent export jobs.
* Asset export - https://developer.tenable.com/reference/exports-assets-request-export ,
  https://developer.tenable.com/reference/exports-assets-export-status ,
  https://developer.tenable.com/reference/exports-assets-download-chunk :
  ``POST /assets/export {"chunk_size": 100..10000, "filters": {"created_at",
  "updated_at", "terminated_at", "has_plugin_results", ...}}`` (time filters select
  assets changed *later than* the Unix time given), then status and chunks as above.
* Rate limits - https://developer.tenable.com/docs/rate-limiting : 429 with ``Retry-After``.

Finding fields follow the export schema: ``asset{uuid, hostname, fqdn, ipv4, mac_address,
netbios_name, operating_system[], device_type, network_id, tracked}``, ``plugin{id, name,
family, cve[], cvss_base_score, cvss3_base_score, vpr{score}, risk_factor, synopsis,
solution, exploit_available, has_patch, ...}``, ``port{port, protocol, service}``,
``scan{uuid, schedule_uuid, started_at, completed_at}``, ``severity`` (info, low,
medium, high, critical), ``severity_id`` 0..4, ``state`` (OPEN, REOPENED, FIXED),
``first_found``, ``last_found``, ``last_fixed``, ``indexed_at``, ``source``, ``finding_id``.
Timestamps are ISO-8601 with milliseconds; every status poll of a new export first reports
PROCESSING with part of the chunks, so clients must poll.

Demo keys: access ``"a" * 64``, secret ``"b" * 64``. Control endpoints: ``/_sim/...``
(see ``aria_connector_testkit.simulators.base``); request counters are kept per route template.
"""

from __future__ import annotations

import copy
import hashlib
import time
import uuid
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_ACCESS_KEY = "a" * 64
DEMO_SECRET_KEY = "b" * 64
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
SEVERITIES = ["info", "low", "medium", "high", "critical"]
PLUGINS = [
    (97833, "MS17-010: Security Update for Microsoft Windows SMB Server (ETERNALBLUE)", "Windows", ["CVE-2017-0143", "CVE-2017-0144"], 8.1, 9.8, 445, "cifs"),
    (156032, "Apache Log4j < 2.15.0 Remote Code Execution (Log4Shell)", "Misc.", ["CVE-2021-44228"], 10.0, 10.0, 8080, "www"),
    (51192, "SSL Certificate Cannot Be Trusted", "General", [], 6.4, 6.5, 443, "www"),
    (57582, "SSL Self-Signed Certificate", "General", [], 6.4, 6.5, 443, "www"),
    (42873, "SSL Medium Strength Cipher Suites Supported (SWEET32)", "General", ["CVE-2016-2183"], 5.0, 7.5, 443, "www"),
    (187315, "SSH Terrapin Prefix Truncation Weakness (CVE-2023-48795)", "Misc.", ["CVE-2023-48795"], 5.4, 5.9, 22, "ssh"),
    (19506, "Nessus Scan Information", "Settings", [], None, None, 0, "general"),
    (10287, "Traceroute Information", "General", [], None, None, 0, "udp"),
]
OSES = ["Microsoft Windows Server 2019 Standard", "Microsoft Windows 10 Enterprise", "Linux Kernel 5.15 on Ubuntu 22.04",
        "Red Hat Enterprise Linux 8.9", "Apple Mac OS X 14.4"]


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def severity_of(cvss3: float | None) -> tuple[str, int]:
    if cvss3 is None:
        return "info", 0
    if cvss3 >= 9.0:
        return "critical", 4
    if cvss3 >= 7.0:
        return "high", 3
    if cvss3 >= 4.0:
        return "medium", 2
    return "low", 1


class TenableData(SeededData):
    def __init__(self, seed: int, vulnerabilities: int, assets: int, malformed: int = 0, per_timestamp: int = 2) -> None:
        super().__init__(seed, per_timestamp)
        self.assets: dict[str, dict[str, Any]] = {}
        self.vulns: dict[str, dict[str, Any]] = {}
        for _ in range(max(assets, 1) if vulnerabilities else assets):
            self.add_asset()
        seed_records(self.add_vuln, vulnerabilities, malformed)

    def _ts(self, stream: str) -> datetime:
        bucket = self.step(stream)
        return T0 + timedelta(minutes=bucket, milliseconds=(bucket * 37) % 1000)

    def add_asset(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        n = len(self.assets)
        updated = self._ts("assets")
        asset_id = str(uuid.UUID(hashlib.md5(f"asset-{self.seed}-{n}".encode()).hexdigest()))
        host = f"{rng.choice(['web', 'db', 'app', 'wks', 'dc'])}-{n:04d}"
        first = updated - timedelta(days=rng.randrange(10, 300))
        ip = f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}"
        asset = {
            "id": asset_id,
            "has_agent": rng.random() < 0.5,
            "has_plugin_results": True,
            "created_at": iso(first),
            "terminated_at": None,
            "terminated_by": None,
            "updated_at": iso(updated),
            "deleted_at": None,
            "deleted_by": None,
            "first_seen": iso(first),
            "last_seen": iso(updated),
            "first_scan_time": iso(first),
            "last_scan_time": iso(updated),
            "last_authenticated_scan_date": iso(updated),
            "last_licensed_scan_date": iso(updated),
            "last_scan_id": str(uuid.UUID(int=rng.getrandbits(128))),
            "last_schedule_id": f"template-{uuid.UUID(int=rng.getrandbits(128))}",
            "agent_uuid": None,
            "bios_uuid": str(uuid.UUID(int=rng.getrandbits(128))).upper(),
            "network_id": "00000000-0000-0000-0000-000000000000",
            "network_name": "Default",
            "agent_names": [],
            "ipv4s": [ip],
            "ipv6s": [],
            "fqdns": [f"{host}.corp.example.com"],
            "mac_addresses": [":".join(f"{rng.randrange(256):02x}" for _ in range(6))],
            "netbios_names": [host.upper()],
            "operating_systems": [rng.choice(OSES)],
            "system_types": ["general-purpose"],
            "hostnames": [host],
            "ssh_fingerprints": [],
            "qualys_asset_ids": [],
            "qualys_host_ids": [],
            "manufacturer_tpm_ids": [],
            "symantec_ep_hardware_keys": [],
            "sources": [{"name": "NESSUS_SCAN", "first_seen": iso(first), "last_seen": iso(updated)}],
            "tags": [],
            "network_interfaces": [{"name": "UNKNOWN", "virtual": None, "aliased": None, "fqdns": [f"{host}.corp.example.com"],
                                    "mac_addresses": [], "ipv4s": [ip], "ipv6s": []}],
            "acr_score": rng.randrange(1, 11),
            "exposure_score": rng.randrange(0, 1001),
        }
        if asset["has_agent"]:
            asset["agent_uuid"] = uuid.UUID(int=rng.getrandbits(128)).hex
            asset["agent_names"] = [host]
        if malformed:
            asset["hostnames"] = []  # an asset must have a name: fails mapping
            self.malformed["assets"] += 1
        self.assets[asset_id] = asset
        return asset

    def add_vuln(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        n = len(self.vulns)
        if not self.assets:
            self.add_asset()
        asset = list(self.assets.values())[n % len(self.assets)]
        pid, name, family, cves, cvss2, cvss3, port, service = rng.choice(PLUGINS)
        severity, severity_id = severity_of(cvss3)
        indexed = self._ts("vulnerabilities")
        first = indexed - timedelta(days=rng.randrange(1, 120))
        scan_uuid = str(uuid.UUID(int=rng.getrandbits(128)))
        vuln = {
            "asset": {
                "device_type": "general-purpose",
                "fqdn": asset["fqdns"][0],
                "hostname": asset["hostnames"][0] if asset["hostnames"] else asset["ipv4s"][0],
                "uuid": asset["id"],
                "ipv4": asset["ipv4s"][0],
                "mac_address": asset["mac_addresses"][0],
                "netbios_name": asset["netbios_names"][0],
                "operating_system": asset["operating_systems"],
                "network_id": asset["network_id"],
                "tracked": True,
                "last_authenticated_results": iso(indexed),
            },
            "output": f"Plugin output for {pid} on port {port}.",
            "plugin": {
                "id": pid,
                "name": name,
                "family": family,
                "family_id": 1000 + pid % 50,
                "cve": list(cves),
                "cvss_base_score": cvss2,
                "cvss3_base_score": cvss3,
                "vpr": {"score": round(rng.uniform(1, 10), 1)} if cvss3 else {},
                "risk_factor": severity.capitalize() if severity != "info" else "None",
                "synopsis": f"The remote host is affected by {name.split(' (')[0]}.",
                "description": f"{name}. See the vendor advisory.",
                "solution": "Apply the vendor patch." if cvss3 else "n/a",
                "see_also": [],
                "exploit_available": bool(cves) and rng.random() < 0.6,
                "has_patch": bool(cvss3),
                "publication_date": "2021-12-10T00:00:00Z",
                "modification_date": "2024-03-01T00:00:00Z",
                "type": "remote",
                "version": "1.42",
            },
            "port": {"port": port, "protocol": "TCP" if port else "UDP", "service": service},
            "scan": {"completed_at": iso(indexed), "schedule_uuid": f"template-{scan_uuid}", "started_at": iso(indexed - timedelta(minutes=20)),
                     "uuid": scan_uuid},
            "severity": severity,
            "severity_id": severity_id,
            "severity_default_id": severity_id,
            "severity_modification_type": "NONE",
            "first_found": iso(first),
            "last_found": iso(indexed),
            "state": rng.choice(["OPEN", "OPEN", "OPEN", "REOPENED", "FIXED"]),
            "indexed_at": iso(indexed),
            "source": "NESSUS",
            "finding_id": str(uuid.UUID(hashlib.md5(f"finding-{self.seed}-{n}".encode()).hexdigest())),
        }
        if vuln["state"] == "FIXED":
            vuln["last_fixed"] = iso(indexed)
        if malformed:
            vuln["plugin"]["name"] = None  # a finding must have a title: fails mapping
            self.malformed["vulnerabilities"] += 1
        self.vulns[vuln["finding_id"]] = vuln
        return vuln

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "assets":
            oldest = sorted(self.assets.values(), key=lambda a: (a["updated_at"], a["id"]))[:count]
            for a in oldest:
                a["updated_at"] = a["last_seen"] = iso(self._ts("assets"))
            return [a["id"] for a in oldest]
        oldest = sorted(self.vulns.values(), key=lambda v: (v["indexed_at"], v["finding_id"]))[:count]
        for v in oldest:
            now = iso(self._ts("vulnerabilities"))
            v["indexed_at"] = v["last_found"] = now
            if v["state"] == "FIXED":
                v["state"] = "REOPENED"
                v.pop("last_fixed", None)
            else:
                v["state"], v["last_fixed"] = "FIXED", now
        return [v["finding_id"] for v in oldest]


def _after(value: str | None, unix: Any, *, inclusive: bool) -> bool:
    if value is None:
        return False
    ts = parse_iso(value).timestamp()
    return ts >= float(unix) if inclusive else ts > float(unix)


class TenableSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, vulnerabilities: int | None = None,
                 assets: int | None = None, malformed: int = 0, per_timestamp: int = 2,
                 access_key: str = DEMO_ACCESS_KEY, secret_key: str = DEMO_SECRET_KEY, rate_limit: int = 6000,
                 rate_window_seconds: float = 60.0, **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, 300, vulnerabilities=vulnerabilities, assets=assets),
                            malformed=malformed, per_timestamp=per_timestamp)
        self.access_key, self.secret_key = access_key, secret_key
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = TenableData(**self.options)
        self.exports: dict[str, dict[str, Any]] = {}

    # -- helpers ------------------------------------------------------------------------------

    @staticmethod
    def error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"statusCode": status, "error": error, "message": message}, status_code=status, headers=headers)

    def guard(self, request: Request, route: str) -> JSONResponse | None:
        gate = self.control.admit(request, route=route)
        if gate.status == 429:
            return self.error(429, "Too Many Requests", "You have exceeded the rate limit", {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return self.error(gate.status, "Internal Server Error" if gate.status == 500 else "Service Unavailable",
                              "An unexpected error occurred")
        keys = {}
        for part in request.headers.get("x-apikeys", "").split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                keys[k.strip()] = v.strip()
        if keys.get("accessKey") != self.access_key or keys.get("secretKey") != self.secret_key:
            return self.error(401, "Unauthorized", "Invalid Credentials")
        return None

    # -- endpoints ------------------------------------------------------------------------------

    async def session(self, request: Request) -> Response:
        if denied := self.guard(request, "/session"):
            return denied
        return JSONResponse({"id": 2, "uuid": str(uuid.UUID(int=2)), "user_name": "api@example.com",
                             "username": "api@example.com", "email": "api@example.com", "name": "API user",
                             "type": "local", "permissions": 64, "enabled": True, "container_uuid": str(uuid.UUID(int=7))})

    async def _body(self, request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    async def vulns_export(self, request: Request) -> Response:
        if denied := self.guard(request, "/vulns/export"):
            return denied
        body = await self._body(request)
        if body is None or not isinstance(body.get("filters", {}), dict):
            return self.error(400, "Bad Request", "Invalid request body")
        num_assets = max(50, min(5000, int(body.get("num_assets", 50) or 50)))
        filters = body.get("filters") or {}
        states = [s.upper() for s in filters.get("state") or ["OPEN", "REOPENED"]]
        severities = [s.lower() for s in filters.get("severity") or SEVERITIES]
        out = []
        for v in self.data.vulns.values():
            if v["state"] not in states or v["severity"] not in severities:
                continue
            if "since" in filters:
                ok = (_after(v.get("last_fixed"), filters["since"], inclusive=True) if v["state"] == "FIXED"
                      else _after(v["last_found"], filters["since"], inclusive=True))
                if not ok:
                    continue
            if any(f in filters and not _after(v.get(f), filters[f], inclusive=True)
                   for f in ("indexed_at", "first_found", "last_found", "last_fixed")):
                continue
            out.append(copy.deepcopy(v))
        by_asset: dict[str, list[dict[str, Any]]] = {}
        for v in out:
            by_asset.setdefault(v["asset"]["uuid"], []).append(v)
        asset_ids = sorted(by_asset)  # chunks group assets, not time
        chunks = [[v for a in asset_ids[i:i + num_assets] for v in by_asset[a]] for i in range(0, len(asset_ids), num_assets)]
        return JSONResponse({"export_uuid": self._new_export("vulns", chunks, filters, num_assets)})

    async def assets_export(self, request: Request) -> Response:
        if denied := self.guard(request, "/assets/export"):
            return denied
        body = await self._body(request)
        if body is None or "chunk_size" not in body:
            return self.error(400, "Bad Request", "chunk_size is required")
        size = max(100, min(10000, int(body["chunk_size"])))
        filters = body.get("filters") or {}
        out = [copy.deepcopy(a) for a in self.data.assets.values()
               if all(not (f in filters) or _after(a.get(f), filters[f], inclusive=False)
                      for f in ("created_at", "updated_at", "terminated_at", "deleted_at"))]
        out.sort(key=lambda a: a["id"])
        chunks = [out[i:i + size] for i in range(0, len(out), size)]
        return JSONResponse({"export_uuid": self._new_export("assets", chunks, filters, size)})

    def _new_export(self, kind: str, chunks: list[list[dict[str, Any]]], filters: dict[str, Any], size: int) -> str:
        export_uuid = str(uuid.uuid4())
        self.exports[export_uuid] = {"kind": kind, "chunks": chunks, "filters": filters, "size": size,
                                     "polls": 0, "created": int(time.time() * 1000)}
        return export_uuid

    def _status_body(self, export_uuid: str, job: dict[str, Any]) -> dict[str, Any]:
        total = len(job["chunks"])
        job["polls"] += 1
        ready = total if job["polls"] > 1 else (total + 1) // 2  # the first poll sees a job still PROCESSING
        status = "FINISHED" if ready == total and job["polls"] > 1 else "PROCESSING"
        size_key = "num_assets_per_chunk" if job["kind"] == "vulns" else "chunk_size"
        return {"uuid": export_uuid, "status": status, "chunks_available": list(range(1, ready + 1)),
                "chunks_failed": [], "chunks_cancelled": [], "total_chunks": total, "chunks_available_count": ready,
                "empty_chunks_count": 0, "finished_chunks": ready, "filters": job["filters"], size_key: job["size"],
                "created": job["created"]}

    async def export_status(self, request: Request) -> Response:
        kind = request.url.path.split("/")[1]
        if denied := self.guard(request, f"/{kind}/export/{{export_uuid}}/status"):
            return denied
        export_uuid = request.path_params["export_uuid"]
        job = self.exports.get(export_uuid)
        if job is None or job["kind"] != kind:
            return self.error(404, "Not Found", "Export not found")
        return JSONResponse(self._status_body(export_uuid, job))

    async def export_chunk(self, request: Request) -> Response:
        kind = request.url.path.split("/")[1]
        if denied := self.guard(request, f"/{kind}/export/{{export_uuid}}/chunks/{{chunk_id}}"):
            return denied
        job = self.exports.get(request.path_params["export_uuid"])
        if job is None or job["kind"] != kind:
            return self.error(404, "Not Found", "Export not found")
        try:
            chunk_id = int(request.path_params["chunk_id"])
        except ValueError:
            return self.error(400, "Bad Request", "Invalid chunk id")
        if not 1 <= chunk_id <= len(job["chunks"]):
            return self.error(404, "Not Found", "Chunk not found")
        return JSONResponse(job["chunks"][chunk_id - 1])

    async def export_jobs(self, request: Request) -> Response:
        if denied := self.guard(request, "/vulns/export/status"):
            return denied
        jobs = [{"uuid": u, "status": "FINISHED", "total_chunks": len(j["chunks"]), "filters": j["filters"],
                 "num_assets_per_chunk": j["size"], "created": j["created"]}
                for u, j in self.exports.items() if j["kind"] == "vulns"]
        return JSONResponse({"exports": jobs})

    # -- control ------------------------------------------------------------------------------

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {"vulnerabilities": Stream(d.vulns, d.malformed["vulnerabilities"], d.add_vuln,
                                          partial(d.touch, "vulnerabilities"), id_field="finding_id"),
                "assets": Stream(d.assets, d.malformed["assets"], d.add_asset, partial(d.touch, "assets"))}

    def counters(self) -> dict[str, Any]:
        return {"exports": len(self.exports)}

    def routes(self) -> list[Route]:
        return [
            Route("/session", self.session, methods=["GET"]),
            Route("/vulns/export", self.vulns_export, methods=["POST"]),
            Route("/vulns/export/status", self.export_jobs, methods=["GET"]),
            Route("/vulns/export/{export_uuid}/status", self.export_status, methods=["GET"]),
            Route("/vulns/export/{export_uuid}/chunks/{chunk_id}", self.export_chunk, methods=["GET"]),
            Route("/assets/export", self.assets_export, methods=["POST"]),
            Route("/assets/export/{export_uuid}/status", self.export_status, methods=["GET"]),
            Route("/assets/export/{export_uuid}/chunks/{chunk_id}", self.export_chunk, methods=["GET"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records (both streams), vulnerabilities, assets, malformed, per_timestamp,
    access_key, secret_key, rate_limit, rate_window_seconds."""
    return TenableSimulator(**options).app()
