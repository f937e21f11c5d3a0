"""Rapid7 InsightVM's Integration API v4 searches on top of the profile (``simulator.yaml``:
auth, errors, seeded assets). What a profile cannot say
(https://help.rapid7.com/insightvm/en-us/api/integrations.html):

* ``POST /vm/v4/integration/assets?size=&cursor=&includeSame=`` with the criteria in the JSON body
  (``{"asset": "last_scan_end >= <ISO time>"}``, ``>`` too); ``includeSame=true`` answers the
  assets that carry their findings (the ``vulnerabilities`` stream's data); pages sorted by id,
  the next page's token in ``metadata.cursor`` (``<offset>:::_S:::<last id>``, the recorded form),
  absent on the last page;
* ``POST /vm/v4/integration/vulnerabilities`` with ``{"vulnerability": "id IN ['a', 'b']"}``: the
  definitions, from ``recorded/vulnerability_definitions.json`` (an id it does not hold is
  answered with a recorded definition under that id);
* an unparseable criteria or cursor is 400 ``{"message": ...}``.
"""

from __future__ import annotations

import copy
import json
import re
import zlib
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Stream, json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, load_profile, parse_time

HERE = Path(__file__).parent
PROFILE = HERE / "simulator.yaml"
DEFINITIONS = json.loads((HERE / "recorded" / "vulnerability_definitions.json").read_text())["response"]["body"]["data"]
CRITERIA = re.compile(r"^\s*last_scan_end\s*(>=|>)\s*(\S+)\s*$")
TOKEN = re.compile(r"^(\d+):::_S:::(.*)$")
IDS = re.compile(r"^\s*id\s+IN\s*\[(.*)\]\s*$", re.IGNORECASE)


def identity(stream: str, record: dict[str, Any]) -> str:
    if stream == "assets":
        return str(record.get("id"))
    f = (record.get("same") or [{}])[0]
    return ":".join("" if v is None else str(v) for v in
                    (record.get("id"), f.get("vulnerability_id"), f.get("port"), f.get("protocol"), f.get("key")))


class InsightVMSimulator(ProfileSimulator):
    def streams(self) -> dict[str, Stream]:
        d, out = self.data, {}
        for name, spec in self.profile.streams.items():
            def touch(n: int, s: str = name) -> list[str]:
                ids = set(d.touch(s, n))
                return [identity(s, r) for r in d.records[s] if str(r.get("id")) in ids]
            out[name] = Stream(d.records[name], d.malformed[name],
                               lambda malformed=False, s=name: {"id": identity(s, d.add(s, malformed))}, touch)
        return out

    async def search(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        if body is None:
            return self.error(400, headers, message="Request body must be a JSON object")
        q = request.query_params
        stream = "vulnerabilities" if q.get("includeSame", "false").lower() == "true" else "assets"
        rows = list(self.data.records[stream])
        criteria = body.get("asset")
        if criteria:
            m = CRITERIA.match(str(criteria))
            try:
                bound = parse_time(m.group(2), "iso8601") if m else None
            except ValueError:
                bound = None
            if bound is None:
                return self.error(400, headers, message=f"Invalid asset criteria: {criteria}")
            strict = m.group(1) == ">"
            rows = [r for r in rows if r.get("last_scan_end") and
                    ((t := parse_time(r["last_scan_end"], "iso8601")) > bound or (not strict and t == bound))]
        rows = self.matching(self.profile.streams[stream], rows, {})
        try:
            size = int(q.get("size", 10))
        except ValueError:
            return self.error(400, headers, message="size must be an integer")
        if not 1 <= size <= 500:
            return self.error(400, headers, message="size must be between 1 and 500")
        start = 0
        if q.get("cursor"):
            m = TOKEN.match(q["cursor"])
            if not m:
                return self.error(400, headers, message="Invalid cursor")
            start = int(m.group(1))
        page = rows[start:start + size]
        meta: dict[str, Any] = {"number": start // size, "size": size, "totalResources": len(rows),
                                "totalPages": (len(rows) + size - 1) // size}
        if start + len(page) < len(rows):
            meta["cursor"] = f"{start + len(page)}:::_S:::{page[-1].get('id')}"
        return self.answer({"data": page, "metadata": meta, "links": [{"href": str(request.url), "rel": "self"}]},
                           headers=headers)

    async def definitions(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        m = IDS.match(str((body or {}).get("vulnerability", "")))
        if m is None:
            return self.error(400, headers, message="Invalid vulnerability criteria")
        wanted = [i.strip().strip("'\"") for i in m.group(1).split(",") if i.strip()]
        known = {d["id"]: d for d in DEFINITIONS}
        data = []
        for vid in wanted:
            d = copy.deepcopy(known.get(vid) or DEFINITIONS[zlib.crc32(vid.encode()) % len(DEFINITIONS)])
            d["id"] = vid
            data.append(d)
        return self.answer({"data": data, "metadata": {"number": 0, "size": len(data), "totalResources": len(data),
                                                       "totalPages": 1},
                            "links": [{"href": str(request.url), "rel": "self"}]}, headers=headers)

    def routes(self) -> list[Route]:
        fixed = [Route(e.path, self.fixed(e), methods=[e.method]) for e in self.profile.endpoints]
        return [*fixed, Route("/vm/v4/integration/assets", self.search, methods=["POST"]),
                Route("/vm/v4/integration/vulnerabilities", self.definitions, methods=["POST"])]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / assets / vulnerabilities, malformed,
    per_timestamp, api_key, rate_limit, rate_window_seconds, replay)."""
    return InsightVMSimulator("rapid7_insightvm", load_profile(PROFILE), **options).app()
