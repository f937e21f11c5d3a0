"""Trellix ePolicy Orchestrator's Web API on top of its profile (``simulator.yaml``: the demo user,
seeded systems and events). What a profile cannot say
(https://docs.trellix.com/bundle/epolicy-orchestrator-web-api-reference-guide):

* every answer is text: ``OK:`` and a line break, then the JSON (ePO's spacing, ``/`` written
  ``\\u002f``), or ``Error <code> :`` and a message; Basic auth (401 without it);
* ``system.find`` (``searchText``: empty lists every system, else a part of the name, DNS name or IP);
* ``core.executeQuery`` (``target=EPOEvents``; ``select`` with an optional ``(top n)`` and the
  columns; ``where`` - here ``(where (ge|gt EPOEvents.AutoID n))``; ``order`` ``(order (asc|desc
  col))``): the rows carry only the selected columns the event has.

ePO's column names hold a dot, the profile's paths do not escape one: seeded records are kept
nested (``{"EPOEvents": {"AutoID": 1}}``) and written flat; recorded (replayed) records stay flat.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Stream
from aria_connector_testkit.simulators.profile import ProfileData, ProfileSimulator, load_profile, order_value

PROFILE = Path(__file__).with_name("simulator.yaml")
TOP = re.compile(r"^\(select\s+(?:\(top\s+(\d+)\)\s*)?(.*)\)$", re.S)
WHERE = re.compile(r"^\(where\s*\(\s*(ge|gt)\s+EPOEvents\.AutoID\s+(-?\d+)\s*\)\s*\)$")
ORDER = re.compile(r"^\(order\s*\(\s*(asc|desc)\s+([\w.]+)\s*\)\s*\)$")


def nest(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        table, _, column = key.partition(".")
        out.setdefault(table, {})[column] = value
    return out


def flat(record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict):
            out.update({f"{key}.{column}": v for column, v in value.items()})
        else:
            out[key] = value
    return out


def column(record: dict[str, Any], name: str) -> Any:
    return flat(record).get(name)


def epo_text(rows: list[dict[str, Any]]) -> str:
    """ePO's JSON answer: ``OK:``, then ``[ { "k" : v, ... }, ... ]`` with ``/`` as ``\\u002f``."""
    def one(row: dict[str, Any]) -> str:
        return "{ " + ", ".join(f"{json.dumps(k)} : {json.dumps(v).replace('/', chr(92) + 'u002f')}"
                                for k, v in row.items()) + " }"
    return "OK:\r\n[ " + ", ".join(one(r) for r in rows) + " ]\r\n"


def corpus_records(target: str, case: dict[str, Any]) -> list[Any]:
    """The rows of a recorded answer (its text after the status line)."""
    text = case["response"]["text"].lstrip()
    if not text.startswith("OK:"):
        raise ValueError("not an ePO OK: answer")
    return json.loads(text[3:])


class EpoData(ProfileData):
    """Seeded from the recorded rows, nested: systems an agent reported (a LastUpdate), events
    with every recorded column (the sparse AutoID rows merged into the full event row)."""

    def add(self, stream: str, malformed: bool = False) -> dict[str, Any]:
        if not getattr(self, "_nested", False):
            self._nested = True
            # managed systems as system.find answered them (an IPV4x; the group listing's rows have none)
            systems = [t for t in self.templates["systems"]
                       if t.get("EPOLeafNode.LastUpdate") and t.get("EPOComputerProperties.IPV4x") is not None]
            self.templates["systems"] = [nest(t) for t in systems or self.templates["systems"]]
            full = [t for t in self.templates["events"] if "EPOEvents.ThreatName" in t]
            sparse = [t for t in self.templates["events"] if "EPOEvents.AutoID" in t]
            merged = [{**f, **s} for f in full for s in sparse] or self.templates["events"]
            self.templates["events"] = [nest(t) for t in merged]
        return super().add(stream, malformed)


class TrellixEpoSimulator(ProfileSimulator):
    def reset(self) -> None:
        super().reset()
        self.data = EpoData(self.key, self.profile, counts=self.counts, replay=self.replay, **self.seeding)

    def streams(self) -> dict[str, Stream]:
        """The control protocol names records by the connector's identity of them."""
        d = self.data

        def ident(stream: str, record: dict[str, Any]) -> str:
            if stream == "systems":
                return str(column(record, "EPOLeafNode.AgentGUID") or column(record, "EPOComputerProperties.ParentID"))
            return str(column(record, "EPOEvents.AutoID"))

        def touch(n: int, s: str) -> list[str]:
            ids = set(d.touch(s, n))
            field = self.profile.streams[s].id_field
            return [ident(s, r) for r in d.records[s] if str(column(r, field)) in ids]
        return {name: Stream(d.records[name], d.malformed[name],
                             lambda malformed=False, s=name: {"id": ident(s, d.add(s, malformed))},
                             lambda n, s=name: touch(n, s))
                for name in self.profile.streams}

    def error(self, status: int, headers: dict[str, str], **values: Any) -> Response:
        info = {**self.profile.errors.statuses.get(status, self.profile.errors.default), **values}
        return Response(f"Error {info.get('code', 0)} :\r\n{info.get('message', '')}\r\n", status_code=status,
                        headers=headers, media_type="text/plain")

    def ok(self, rows: list[dict[str, Any]], headers: dict[str, str]) -> Response:
        return Response(epo_text([flat(r) for r in rows]), headers=headers, media_type="text/plain")

    def refuse(self, headers: dict[str, str], message: str) -> Response:
        return Response(f"Error 1 :\r\n{message}\r\n", headers=headers, media_type="text/plain")

    async def system_find(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        if "searchText" not in request.query_params:
            return self.refuse(headers, "Required parameter searchText is missing")
        text = request.query_params["searchText"].lower()
        rows = [r for r in self.data.records["systems"]
                if not text or any(text in str(column(r, f) or "").lower() for f in
                                   ("EPOComputerProperties.ComputerName", "EPOComputerProperties.IPHostName",
                                    "EPOComputerProperties.IPAddress"))]
        return self.ok(rows, headers)

    async def execute_query(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        q = request.query_params
        if q.get("target") != "EPOEvents":
            return self.refuse(headers, f"Unknown target: {q.get('target')}")
        rows = list(self.data.records["events"])
        top, columns = None, None
        if q.get("select"):
            m = TOP.match(q["select"].strip())
            if not m:
                return self.refuse(headers, "Unable to parse select clause")
            top = int(m.group(1)) if m.group(1) else None
            columns = m.group(2).split()
        if q.get("where"):
            m = WHERE.match(q["where"].strip())
            if not m:
                return self.refuse(headers, "Unable to parse where clause")
            op, bound = m.group(1), int(m.group(2))
            rows = [r for r in rows if isinstance(column(r, "EPOEvents.AutoID"), int)
                    and (column(r, "EPOEvents.AutoID") >= bound if op == "ge" else column(r, "EPOEvents.AutoID") > bound)]
        if q.get("order"):
            m = ORDER.match(q["order"].strip())
            if not m:
                return self.refuse(headers, "Unable to parse order clause")
            rows.sort(key=lambda r: order_value(column(r, m.group(2))), reverse=m.group(1) == "desc")
        if top is not None:
            rows = rows[:top]
        if columns:
            rows = [{c: v for c, v in flat(r).items() if c in columns} for r in rows]
        return self.ok(rows, headers)

    def routes(self) -> list[Route]:
        return [Route("/system.find", self.system_find, methods=["GET"]),
                Route("/core.executeQuery", self.execute_query, methods=["GET"])]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / systems / events, malformed, per_timestamp,
    username, password, rate_limit, rate_window_seconds, replay)."""
    return TrellixEpoSimulator("trellix_epo", load_profile(PROFILE), **options).app()
