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

Records are real: seeded findings and assets are the corpus records (``corpus/``: recorded
export chunks and the documented example) with ids, hosts and times varied by the seed, so
they carry no ``finding_id`` and write ``indexed_at`` as epoch seconds in a string, as
Tenable does; ``replay`` serves given records verbatim. Every status poll of a new export
first reports PROCESSING with part of the chunks, so clients must poll.

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

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_ACCESS_KEY = "a" * 64
DEMO_SECRET_KEY = "b" * 64
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
SEVERITIES = ["info", "low", "medium", "high", "critical"]
HOSTS = ["web", "db", "app", "wks", "dc"]


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def unix(value: Any) -> float | None:
    """Seconds of a Tenable time: ISO-8601 text, or epoch seconds as a number or digit string
    (``indexed_at`` is written both ways); None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) or str(value).isdigit():
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def finding_key(v: dict[str, Any]) -> str:
    """The identity the connector gives a finding without ``finding_id`` (real chunks carry none):
    asset, plugin, port, protocol."""
    asset, plugin, port = v.get("asset") or {}, v.get("plugin") or {}, v.get("port") or {}
    return ":".join("" if x is None else str(x) for x in (asset.get("uuid"), plugin.get("id"), port.get("port"), port.get("protocol")))


class TenableData(SeededData):
    """Findings and assets in the order the vendor lists them. Seeded records are the corpus
    records (real responses) varied by the seed; ``replay`` holds given records verbatim."""

    def __init__(self, seed: int, vulnerabilities: int, assets: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        if replay is not None:
            self.assets = [copy.deepcopy(a) for a in replay.get("assets", [])]
            self.vulns = [copy.deepcopy(v) for v in replay.get("vulnerabilities", [])]
            return
        self.vuln_templates = records_for("tenable_vm", "vulnerabilities")
        self.asset_templates = records_for("tenable_vm", "assets")
        self.assets = []
        self.vulns = []
        for _ in range(max(assets, 1) if vulnerabilities else assets):
            self.add_asset()
        seed_records(self.add_vuln, vulnerabilities, malformed)

    def _ts(self, stream: str) -> datetime:
        bucket = self.step(stream)
        return T0 + timedelta(minutes=bucket, milliseconds=(bucket * 37) % 1000)

    def add_asset(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        n = len(self.assets)
        asset = copy.deepcopy(self.asset_templates[n % len(self.asset_templates)])
        updated = self._ts("assets")
        first = updated - timedelta(days=rng.randrange(10, 300))
        host = f"{rng.choice(HOSTS)}-{n:04d}"
        ip = f"10.{rng.randrange(0, 255)}.{rng.randrange(0, 255)}.{rng.randrange(1, 255)}"
        asset["id"] = str(uuid.UUID(hashlib.md5(f"asset-{self.seed}-{n}".encode()).hexdigest()))
        for key, value in (("created_at", first), ("first_seen", first), ("updated_at", updated), ("last_seen", updated)):
            asset[key] = iso(value)
        for key in ("first_scan_time", "last_scan_time", "last_licensed_scan_date"):
            if asset.get(key) is not None:
                asset[key] = iso(updated)
        if asset["hostnames"]:  # a template with no hostname stays without one (as 59 of 100 real assets are)
            asset["hostnames"] = [host]
        if asset["agent_names"]:
            asset["agent_names"] = [host]
        asset["ipv4s"] = [ip] + asset["ipv4s"][1:]
        for nic in asset["network_interfaces"]:
            nic["ipv4s"] = [ip] + nic["ipv4s"][1:] if nic["ipv4s"] else []
        for source in asset["sources"]:
            source.update(first_seen=iso(first), last_seen=iso(updated))
        if malformed:
            asset["hostnames"], asset["fqdns"], asset["ipv4s"] = [], [], []  # nothing to name it by: fails mapping
            self.malformed["assets"] += 1
        self.assets.append(asset)
        return asset

    def add_vuln(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        n = len(self.vulns)
        if not self.assets:
            self.add_asset()
        asset = self.assets[n % len(self.assets)]
        vuln = copy.deepcopy(self.vuln_templates[n % len(self.vuln_templates)])
        indexed = self._ts("vulnerabilities")
        name = (asset["hostnames"] or asset["ipv4s"] or [""])[0]
        for key, value in (("uuid", asset["id"]), ("hostname", name), ("ipv4", asset["ipv4s"][0] if asset["ipv4s"] else None)):
            if key in vuln["asset"]:
                vuln["asset"][key] = value
        vuln["plugin"]["id"] += 100_000 * (n // len(self.assets))  # one finding per asset and plugin
        vuln["first_found"] = iso(indexed - timedelta(days=rng.randrange(1, 120)))
        vuln["last_found"] = iso(indexed)
        vuln["indexed_at"] = str(int(indexed.timestamp()))  # epoch seconds in a string, as Tenable writes it
        vuln["state"] = rng.choice(["OPEN", "OPEN", "OPEN", "REOPENED", "FIXED"])
        if malformed:
            vuln["plugin"]["name"] = None  # a finding must have a title: fails mapping
            self.malformed["vulnerabilities"] += 1
        self.vulns.append(vuln)
        return vuln

    def touch(self, stream: str, count: int) -> list[str]:
        if stream == "assets":
            oldest = sorted(self.assets, key=lambda a: (a["updated_at"], a["id"]))[:count]
            for a in oldest:
                a["updated_at"] = a["last_seen"] = iso(self._ts("assets"))
            return [a["id"] for a in oldest]
        oldest = sorted(self.vulns, key=lambda v: (unix(v.get("indexed_at")) or 0, finding_key(v)))[:count]
        for v in oldest:
            now = self._ts("vulnerabilities")
            v["indexed_at"], v["last_found"] = str(int(now.timestamp())), iso(now)
            v["state"] = "REOPENED" if v["state"] == "FIXED" else "FIXED"
        return [finding_key(v) for v in oldest]


def _after(value: Any, since: Any, *, inclusive: bool) -> bool:
    ts = unix(value)
    if ts is None:
        return False
    return ts >= float(since) if inclusive else ts > float(since)


class TenableSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, vulnerabilities: int | None = None,
                 assets: int | None = None, malformed: int = 0, per_timestamp: int = 2,
                 access_key: str = DEMO_ACCESS_KEY, secret_key: str = DEMO_SECRET_KEY, rate_limit: int = 6000,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None,
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, 300, vulnerabilities=vulnerabilities, assets=assets),
                            malformed=malformed, per_timestamp=per_timestamp)
        self.access_key, self.secret_key = access_key, secret_key
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        self.data = TenableData(**self.options, replay=self.replay)
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
        for v in self.data.vulns:
            if v.get("state") not in states or v.get("severity") not in severities:
                continue
            if "since" in filters:
                ok = (_after(v.get("last_fixed") or v.get("last_found"), filters["since"], inclusive=True) if v.get("state") == "FIXED"
                      else _after(v.get("last_found"), filters["since"], inclusive=True))
                if not ok:
                    continue
            if any(f in filters and not _after(v.get(f), filters[f], inclusive=True)
                   for f in ("indexed_at", "first_found", "last_found", "last_fixed")):
                continue
            out.append(copy.deepcopy(v))
        by_asset: dict[str, list[dict[str, Any]]] = {}  # chunks group assets (in listing order), not time
        for v in out:
            by_asset.setdefault((v.get("asset") or {}).get("uuid", ""), []).append(v)
        groups = list(by_asset.values())
        chunks = [[v for group in groups[i:i + num_assets] for v in group] for i in range(0, len(groups), num_assets)]
        return JSONResponse({"export_uuid": self._new_export("vulns", chunks, filters, num_assets)})

    async def assets_export(self, request: Request) -> Response:
        if denied := self.guard(request, "/assets/export"):
            return denied
        body = await self._body(request)
        if body is None or "chunk_size" not in body:
            return self.error(400, "Bad Request", "chunk_size is required")
        size = max(100, min(10000, int(body["chunk_size"])))
        filters = body.get("filters") or {}
        out = [copy.deepcopy(a) for a in self.data.assets
               if all(not (f in filters) or _after(a.get(f), filters[f], inclusive=False)
                      for f in ("created_at", "updated_at", "terminated_at", "deleted_at"))]
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
        return {"vulnerabilities": Stream(d.vulns, d.malformed["vulnerabilities"],
                                          lambda malformed=False: {"id": finding_key(d.add_vuln(malformed))},
                                          partial(d.touch, "vulnerabilities")),
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
    access_key, secret_key, rate_limit, rate_window_seconds; replay ({stream: records}: exactly
    those records, verbatim and in order, nothing seeded)."""
    return TenableSimulator(**options).app()
