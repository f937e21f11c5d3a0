"""Simulator of the IBM QRadar REST API subset the connector uses.

Faithful to the public documentation (QRadar 7.5 API reference):

* Offenses - https://www.ibm.com/docs/en/qsip/7.5?topic=endpoints-siemoffenses-get :
  ``GET /api/siem/offenses`` (``filter``, ``sort``, ``fields``) -> JSON array of offenses with
  ``id``, ``description``, ``offense_type``, ``offense_source``, ``magnitude`` (1-10),
  ``severity`` (1-10), ``relevance``, ``credibility``, ``status`` (OPEN|HIDDEN|CLOSED),
  ``start_time`` / ``last_updated_time`` / ``first_persisted_time`` / ``close_time`` (epoch
  milliseconds), ``event_count``, ``flow_count``, ``device_count``, ``categories``,
  ``category_count``, ``assigned_to``, ``follow_up``, ``protected``, ``inactive``,
  ``domain_id``, ``source_network``, ``destination_networks``, ``log_sources``, ``rules``,
  ``closing_reason_id``, ``closing_user``, ``source_address_ids``,
  ``local_destination_address_ids``, ``username_count``, ``source_count``, ...
* Paging - https://www.ibm.com/docs/en/qsip/7.5?topic=api-pagination : request header
  ``Range: items=<first>-<last>`` (inclusive); the response carries
  ``Content-Range: items <first>-<last>/<total>``; without Range every item is returned.
* Filters and sorting - https://www.ibm.com/docs/en/qsip/7.5?topic=api-filter-syntax :
  ``field op value`` with ``= != < > <= >=``, terms joined by ``and``; ``sort=+field`` /
  ``-field``; a bad filter is 422 (code 1005).
* Auth - https://www.ibm.com/docs/en/qsip/7.5?topic=api-authorized-service-tokens : header
  ``SEC: <token>``; a missing or unknown token is 401 with the error envelope
  ``{"http_response": {"code", "message"}, "code", "description", "details", "message"}``.
  The ``Version`` header selects the API version (default latest).
* ``GET /api/system/about`` -> ``{"release_name", "build_version", "fips_enabled", "external_version"}``.

Records are real: seeded offenses are the corpus records (``corpus/``: recorded offense lists)
with ids, times, scores and sources varied by the seed; ``replay`` serves given records
verbatim.

Demo token: ``11111111-2222-3333-4444-555555555555``. Control endpoints: ``/_sim/...``.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_TOKEN = "11111111-2222-3333-4444-555555555555"
T0_MS = int(datetime(2024, 5, 1, tzinfo=timezone.utc).timestamp() * 1000)
ERRORS = {
    401: ("Unauthorized", 26, "You are unauthorized to access the requested resource."),
    422: ("Unprocessable Entity", 1005, "One or more request parameter are invalid in the request."),
    429: ("Too Many Requests", 1010, "The rate of requests exceeded the allowed limit."),
    500: ("Internal Server Error", 1020, "An error occurred during the attempt to retrieve data."),
    503: ("Service Unavailable", 1030, "The service is temporarily unavailable."),
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    phrase, code, description = ERRORS.get(status, ("Error", 1000, "An error occurred."))
    return JSONResponse({"http_response": {"code": status, "message": phrase}, "code": code,
                         "description": description, "details": {}, "message": message},
                        status_code=status, headers=headers)


class QRadarData(SeededData):
    """Offenses in the order they were raised. Seeded offenses are the corpus records (real
    responses) varied by the seed; ``replay`` holds given records verbatim."""

    def __init__(self, seed: int, offenses: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        if replay is not None:
            self.offenses = [copy.deepcopy(o) for o in replay.get("offenses", [])]
            return
        self.templates = records_for("ibm_qradar", "offenses")
        self.offenses = []
        seed_records(self.add, offenses, malformed)

    def _ts(self) -> int:
        step = self.step()
        return T0_MS + step * 60_000 + step * 17 % 1000

    def add(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        offense = copy.deepcopy(self.templates[len(self.offenses) % len(self.templates)])
        updated = self._ts()
        start = updated - rng.randrange(60_000, 7 * 86_400_000)
        severity, credibility, relevance = rng.randrange(1, 11), rng.randrange(1, 11), rng.randrange(1, 11)
        offense.update(id=len(self.offenses) + 1, start_time=start, last_updated_time=updated, severity=severity,
                       credibility=credibility, relevance=relevance,
                       magnitude=max(1, min(10, round(severity * 0.5 + credibility * 0.2 + relevance * 0.3))),
                       event_count=rng.randrange(1, 50000))
        for key, value in (("first_persisted_time", start + 1000), ("last_persisted_time", updated + 500)):
            if key in offense:
                offense[key] = value
        if offense.get("offense_type") == 0:  # the source is an IP address
            offense["offense_source"] = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if offense["status"] == "CLOSED":
            offense["close_time"] = updated
        if malformed:
            offense["status"] = "ARCHIVED"  # not a QRadar offense status: fails mapping
            self.malformed["offenses"] += 1
        self.offenses.append(offense)
        return offense

    def touch(self, count: int) -> list[str]:
        oldest = sorted(self.offenses, key=lambda o: (o["last_updated_time"], o["id"]))[:count]
        for o in oldest:
            o["last_updated_time"] = self._ts()
            if o["status"] == "CLOSED":
                o.update(status="OPEN", close_time=None, closing_reason_id=None, closing_user=None)
            else:
                o.update(status="CLOSED", close_time=o["last_updated_time"], closing_reason_id=54, closing_user="admin")
        return [str(o["id"]) for o in oldest]


_TERM = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|!=|=|>|<)\s*(?:\"([^\"]*)\"|'([^']*)'|(-?\d+(?:\.\d+)?)|(true|false|null))\s*$",
                   re.IGNORECASE)


def apply_filter(rows: list[dict[str, Any]], expr: str | None) -> list[dict[str, Any]]:
    if not expr:
        return rows
    preds = []
    for term in re.split(r"\s+and\s+", expr.strip(), flags=re.IGNORECASE):
        m = _TERM.match(term)
        if not m:
            raise ValueError(term)
        field, op, s1, s2, num, lit = m.groups()
        value: Any = s1 if s1 is not None else s2 if s2 is not None else (
            float(num) if num is not None else {"true": True, "false": False, "null": None}[lit.lower()])
        preds.append((field, op, value))

    def ok(row: dict[str, Any]) -> bool:
        for field, op, value in preds:
            actual = row.get(field)
            if op in ("=", "!="):
                if (actual == value) != (op == "="):
                    return False
                continue
            if actual is None or value is None:
                return False
            if not {">": actual > value, "<": actual < value, ">=": actual >= value, "<=": actual <= value}[op]:
                return False
        return True

    return [r for r in rows if ok(r)]


class QRadarSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, offenses: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, sec_token: str = DEMO_TOKEN, rate_limit: int = 100000,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None,
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, offenses=offenses), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.sec_token = sec_token
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        self.data = QRadarData(**self.options, replay=self.replay)

    def guard(self, request: Request) -> Response | None:
        gate = self.control.admit(request)
        if gate.status == 429:
            return error(429, "Rate limit exceeded", {"Retry-After": str(gate.retry_after)})
        if gate.status is not None:
            return error(gate.status, "Unexpected server error")
        token = request.headers.get("sec")
        if not token:
            return error(401, "No SEC header present in request. Please provide it via \"SEC: token\". You may also use "
                              "BASIC authentication parameters if this host supports it. e.g. \"Authorization: Basic base64Encoding\"")
        if token != self.sec_token:
            return error(401, "Invalid authentication token")
        return None

    async def about(self, request: Request) -> Response:
        if denied := self.guard(request):
            return denied
        return JSONResponse({"release_name": "7.5.0 UpdatePackage 8", "build_version": "2024.01.0.20240102150520",
                             "fips_enabled": False, "external_version": "7.5.0"})

    async def offenses(self, request: Request) -> Response:
        if denied := self.guard(request):
            return denied
        q = request.query_params
        try:
            rows = apply_filter(list(self.data.offenses), q.get("filter"))
        except ValueError as exc:
            return error(422, f"Filter parameter is invalid: {exc}")
        rows.sort(key=lambda r: (r.get("id") is None, r.get("id")))
        for part in reversed([p.strip() for p in (q.get("sort") or "").split(",") if p.strip()]):
            desc, field = part.startswith("-"), part.lstrip("+-")
            rows.sort(key=lambda r: (r.get(field) is None, r.get(field)), reverse=desc)
        total = len(rows)
        headers: dict[str, str] = {}
        rng = request.headers.get("range")
        if rng:
            m = re.fullmatch(r"\s*items=(\d+)-(\d+)\s*", rng)
            if not m or int(m.group(2)) < int(m.group(1)):
                return error(422, "Range header is invalid; expected items=x-y")
            first, last = int(m.group(1)), int(m.group(2))
            rows = rows[first:last + 1]
            headers["Content-Range"] = f"items {first}-{first + len(rows) - 1}/{total}" if rows else f"items */{total}"
        else:
            headers["Content-Range"] = f"items 0-{total - 1}/{total}" if total else "items */0"
        fields = q.get("fields")
        if fields:
            keep = [f.strip() for f in fields.split(",")]
            rows = [{k: r.get(k) for k in keep} for r in rows]
        return JSONResponse(rows, headers=headers)

    def streams(self) -> dict[str, Stream]:
        return {"offenses": Stream(self.data.offenses, self.data.malformed["offenses"], self.data.add, self.data.touch)}

    def routes(self) -> list[Route]:
        return [
            Route("/api/system/about", self.about, methods=["GET"]),
            Route("/api/siem/offenses", self.offenses, methods=["GET"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / offenses, malformed, per_timestamp, sec_token, rate_limit, rate_window_seconds;
    replay ({"offenses": records}: exactly those records, verbatim and in order, nothing seeded)."""
    return QRadarSimulator(**options).app()


__all__ = ["create_app"]
