"""Kaspersky Security Center's Open API on top of its profile (``simulator.yaml``: the demo user,
the PxgError bodies, seeded hosts). What a profile cannot say
(https://support.kaspersky.com/help/KSC/15.1/KSCAPI/index.html):

* ``POST /api/v1.0/Session.StartSession`` with ``Authorization: KSCBasic user="<base64>",
  pass="<base64>", internal="1"`` opens a session, answered ``{"PxgRetVal": "<session id>"}``; every
  other call carries ``X-KSC-Session: <session id>`` (401 without a live one); expiring tokens ends
  every session;
* ``HostGroup.FindHosts`` (``wstrFilter`` in KSC's search filter syntax - here the
  ``(!(KLHST_WKS_LAST_VISIBLE < T"YYYY-MM-DD hh:mm:ss"))`` term, absent attributes never match -
  ``vecFieldsToReturn``, ``vecFieldsToOrder``, ``lMaxLifeTime``) opens a result set and answers
  ``{strAccessor, PxgRetVal: <records found>}``; the records keep only the requested attributes that
  have a value, as KSC does;
* ``ChunkAccessor.GetItemsChunk`` (``strAccessor``, ``nStart``, ``nCount``) answers ``{pChunk:
  {KLCSP_ITERATOR_ARRAY: [...]}, PxgRetVal: <records in the chunk>}`` from that snapshot; an unknown
  accessor is a ``PxgError`` on HTTP 200.
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Stream, json_object
from aria_connector_testkit.simulators.profile import ProfileData, ProfileSimulator, load_profile, order_value, read

PROFILE = Path(__file__).with_name("simulator.yaml")
ID = "value.KLHST_WKS_HOSTNAME"
VISIBLE = "value.KLHST_WKS_LAST_VISIBLE.value"
NOT_BEFORE = re.compile(r'^\(!\(KLHST_WKS_LAST_VISIBLE < T"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"\)\)$')
KSC_BASIC = re.compile(r'^KSCBasic user="([^"]*)", pass="([^"]*)"(, internal="[01]")?$')


class KscData(ProfileData):
    """Seeded hosts come from the recorded records that carry a last-visible time (the sparse
    recorded answer was read with a field list without it)."""

    def add(self, stream: str, malformed: bool = False) -> dict[str, Any]:
        dated = [t for t in self.templates[stream] if read(t, VISIBLE) is not None]
        self.templates[stream] = dated or self.templates[stream]
        return super().add(stream, malformed)


def _b64(text: str) -> str | None:
    try:
        return base64.b64decode(text, validate=True).decode()
    except ValueError:
        return None


class KasperskySecurityCenterSimulator(ProfileSimulator):
    def reset(self) -> None:
        super().reset()
        self.data = KscData(self.key, self.profile, counts=self.counts, replay=self.replay, **self.seeding)
        self.sessions: set[str] = set()
        self.accessors: dict[str, list[dict[str, Any]]] = {}

    def expire_tokens(self) -> None:
        self.sessions.clear()

    def streams(self) -> dict[str, Stream]:
        """The control protocol names hosts by their host id (KLHST_WKS_HOSTNAME)."""
        d = self.data
        return {"hosts": Stream(d.records["hosts"], d.malformed["hosts"],
                                lambda malformed=False: {"id": read(d.add("hosts", malformed), ID)},
                                lambda n: d.touch("hosts", n))}

    def authenticated(self, request: Request) -> bool:
        return request.headers.get("x-ksc-session", "") in self.sessions

    async def start_session(self, request: Request) -> Response:
        gate = self.control.admit(request, budget=False)
        if gate.status is not None:
            retry = self.profile.errors.retry_after_header
            return self.error(gate.status, {retry: str(gate.retry_after)} if gate.status == 429 and retry else {})
        m = KSC_BASIC.match(request.headers.get("authorization", ""))
        creds = (_b64(m.group(1)), _b64(m.group(2))) if m else None
        if creds != (self.secrets["username"], self.secrets["password"]):
            return self.error(401, {})
        session = "ns" + base64.b64encode(secrets.token_bytes(16)).decode()
        self.sessions.add(session)
        self.tokens_issued += 1
        return self.answer({"PxgRetVal": session})

    async def find_hosts(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        if body is None:
            return self.error(400, headers, message="Invalid JSON")
        rows = list(self.data.records["hosts"])
        flt = str(body.get("wstrFilter") or "").strip()
        if flt:
            m = NOT_BEFORE.match(flt)
            if not m:
                return self.answer({"PxgError": {"code": 1200, "message": f"Invalid search filter '{flt}'"}},
                                   headers=headers)
            bound = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
            rows = [r for r in rows if read(r, VISIBLE) is not None
                    and datetime.fromisoformat(str(read(r, VISIBLE)).replace("Z", "+00:00")) >= bound]
        order = [(str(read(o, "value.Name")), bool(read(o, "value.Asc")))
                 for o in body.get("vecFieldsToOrder") or [] if isinstance(o, dict)]
        for name, asc in reversed(order):  # stable sorts, the last key first
            rows.sort(key=lambda r, n=name: order_value(self._attr(r, n)), reverse=not asc)
        fields = body.get("vecFieldsToReturn")
        projected = [self._project(r, fields) for r in rows]
        accessor = base64.b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        self.accessors[accessor] = projected
        return self.answer({"strAccessor": accessor, "PxgRetVal": len(projected)}, headers=headers)

    @staticmethod
    def _attr(record: dict[str, Any], name: str) -> Any:
        value = (record.get("value") or {}).get(name)
        return value.get("value") if isinstance(value, dict) else value

    @staticmethod
    def _project(record: dict[str, Any], fields: Any) -> dict[str, Any]:
        out = copy.deepcopy(record)
        value = out.get("value") if isinstance(out.get("value"), dict) else {}
        keep = set(fields) if isinstance(fields, list) and fields else set(value)
        out["value"] = {k: v for k, v in value.items() if k in keep and v is not None}
        return out

    async def get_items_chunk(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request) or {}
        rows = self.accessors.get(str(body.get("strAccessor")))
        if rows is None:
            return self.answer({"PxgError": {"code": 1203, "message": "Accessor not found"}}, headers=headers)
        try:
            start, count = int(body.get("nStart", 0)), int(body.get("nCount", 100))
        except (TypeError, ValueError):
            return self.error(400, headers, message="nStart and nCount must be integers")
        page = rows[max(0, start):max(0, start) + max(0, count)]
        return self.answer({"pChunk": {"KLCSP_ITERATOR_ARRAY": page}, "PxgRetVal": len(page)}, headers=headers)

    def routes(self) -> list[Route]:
        return [Route("/api/v1.0/Session.StartSession", self.start_session, methods=["POST"]),
                Route("/api/v1.0/HostGroup.FindHosts", self.find_hosts, methods=["POST"]),
                Route("/api/v1.0/ChunkAccessor.GetItemsChunk", self.get_items_chunk, methods=["POST"])]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / hosts, malformed, per_timestamp, username,
    password, rate_limit, rate_window_seconds, replay)."""
    return KasperskySecurityCenterSimulator("kaspersky_security_center", load_profile(PROFILE), **options).app()
