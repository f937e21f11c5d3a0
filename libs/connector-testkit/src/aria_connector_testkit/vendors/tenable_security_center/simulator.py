"""Tenable Security Center's analysis API on top of its profile (``simulator.yaml``: auth, the
response envelope of errors, seeded findings and hosts). What a profile cannot say
(https://docs.tenable.com/security-center/api/Analysis.htm):

* one route, ``POST /rest/analysis``, answers both streams: the body's ``query.tool`` picks
  vulndetails (findings) or sumip (hosts); ``type`` must be ``vuln``;
* the page window is in the body (``query.startOffset`` / ``query.endOffset``, end exclusive),
  and so are the sort (``sortField``, ``sortDir`` ASC / DESC) and the filters
  (``[{filterName, operator, value}]``); ``lastSeen`` takes ``"<start>-<end>"`` in epoch seconds
  (a host's last seen is the later of its last authenticated / unauthenticated run); another form
  is refused with 403 as Security Center does;
* the answer wraps the page in ``{type, response: {totalRecords, returnedRecords, startOffset,
  endOffset, matchingDataElementCount, results}, error_code, error_msg, warnings, timestamp}``
  with the counts and offsets written as strings, as recorded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Stream, json_object
from aria_connector_testkit.simulators.profile import BadRequest, ProfileSimulator, load_profile

PROFILE = Path(__file__).with_name("simulator.yaml")
TOOLS = {"vulndetails": "vulnerabilities", "sumip": "assets"}
WINDOW = re.compile(r"^(\d+)-(\d+)$")


def last_seen(stream: str, record: dict[str, Any]) -> int | None:
    if stream == "vulnerabilities":
        values = [record.get("lastSeen")]
    else:
        values = [record.get("lastAuthRun"), record.get("lastUnauthRun")]
    seen = [int(v) for v in values if str(v).isdigit()]
    return max(seen) if seen else None


def identity(stream: str, record: dict[str, Any]) -> str:
    """The id the connector gives a record (no single vendor id): the host is its repository plus
    agent UUID, else IP and DNS name; a finding adds plugin, port and protocol."""
    repo = str((record.get("repository") or {}).get("id"))
    host = [repo, record["uuid"]] if record.get("uuid") else [repo, record.get("ip") or "", record.get("dnsName") or ""]
    if stream == "vulnerabilities":
        host += [str(record.get(k)) for k in ("pluginID", "port", "protocol")]
    return ":".join(str(x) for x in host)


class TenableSecurityCenterSimulator(ProfileSimulator):
    def streams(self) -> dict[str, Stream]:
        """The control protocol names records by the connector's identity of them."""
        d, out = self.data, {}
        for name, spec in self.profile.streams.items():
            def touch(n: int, s: str = name, field: str = spec.id_field) -> list[str]:
                ids = set(d.touch(s, n))
                return [identity(s, r) for r in d.records[s] if str(r.get(field)) in ids]
            out[name] = Stream(d.records[name], d.malformed[name],
                               lambda malformed=False, s=name: {"id": identity(s, d.add(s, malformed))}, touch)
        return out

    async def analysis(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        query = (body or {}).get("query")
        if body is None or body.get("type") != "vuln" or not isinstance(query, dict):
            return self.error(403, headers, message="Invalid parameters: type must be vuln with a query.")
        stream = TOOLS.get(str(query.get("tool")))
        if stream is None:
            return self.error(403, headers, message=f"Invalid tool '{query.get('tool')}'.")
        spec = self.profile.streams[stream]
        rows = list(self.data.records[stream])
        try:
            start, end = int(query.get("startOffset", 0)), int(query.get("endOffset", 50))
        except (TypeError, ValueError):
            return self.error(403, headers, message="startOffset and endOffset must be integers.")
        if start < 0 or end <= start:
            return self.error(403, headers, message="endOffset must be greater than startOffset.")
        for flt in query.get("filters") or []:
            if not isinstance(flt, dict) or flt.get("filterName") != "lastSeen":
                continue
            m = WINDOW.match(str(flt.get("value", "")))
            if not m or int(m.group(2)) < int(m.group(1)):
                return self.error(403, headers, message="filter 'lastSeen' must be in the following format: "
                                  "<end day>:<start day>, <start time>-<end time>, or 'currentmonth'")
            lo, hi = int(m.group(1)), int(m.group(2))
            rows = [r for r in rows if (s := last_seen(stream, r)) is not None and lo <= s <= hi]
        order = {"sortField": query.get("sortField"), "sortDir": str(query.get("sortDir", "ASC")).lower()}
        try:
            rows = self.matching(spec, rows, {k: v for k, v in order.items() if v not in (None, "none")})
        except BadRequest as exc:
            return self.error(403, headers, message=str(exc))
        page = rows[start:end]
        return self.answer({"type": "regular",
                            "response": {"totalRecords": str(len(rows)), "returnedRecords": len(page),
                                         "startOffset": str(start), "endOffset": str(end),
                                         "matchingDataElementCount": "-1", "results": page},
                            "error_code": 0, "error_msg": "", "warnings": [], "timestamp": 1714521600},
                           headers=headers)

    def routes(self) -> list[Route]:
        fixed = [Route(e.path, self.fixed(e), methods=[e.method]) for e in self.profile.endpoints]
        return [*fixed, Route("/rest/analysis", self.analysis, methods=["POST"])]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / vulnerabilities / assets, malformed,
    per_timestamp, api_key, rate_limit, rate_window_seconds, replay)."""
    return TenableSecurityCenterSimulator("tenable_security_center", load_profile(PROFILE), **options).app()
