"""Symantec Endpoint Security on top of its profile (``simulator.yaml``): what a profile cannot say.

The incident search is ``POST /v1/incidents`` with a JSON body: ``start_date`` / ``end_date`` (ISO 8601;
a start older than 30 days is refused, none means no lower bound here), ``next`` (the integer offset,
from 0), ``limit`` (default 15, at most 2000), ``include_events`` (without it the incidents carry no
``events``) and ``query`` (Lucene; the simulator reads ``state_id: [a TO b]`` and ``state_id: n``
terms joined by OR). The window is taken on ``modified``, and the answer is newest first (the order of
the recorded answer with several distinct modification times), ``{total, incidents, next?}``. The
records' clock starts two days before the simulator, so they fall inside the 30-day reach.
"""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, load_profile, order_value, parse_time, read

PROFILE = Path(__file__).with_name("simulator.yaml")
MAX_AGE = timedelta(days=30)
_RANGE = re.compile(r"state_id\s*:\s*\[\s*(\d+)\s+TO\s+(\d+)\s*\]")
_ONE = re.compile(r"state_id\s*:\s*(\d+)")


class Invalid(ValueError):
    pass


def states_of(query: str) -> set[int] | None:
    """The state ids a ``state_id`` Lucene query keeps (None: every state)."""
    if not query.strip():
        return None
    wanted: set[int] = set()
    for term in re.split(r"\s+OR\s+", query.strip().strip("()")):
        term = term.strip().strip("()").strip()
        if m := _RANGE.fullmatch(term):
            wanted.update(range(int(m.group(1)), int(m.group(2)) + 1))
        elif m := _ONE.fullmatch(term):
            wanted.add(int(m.group(1)))
        else:
            raise Invalid("query")
    return wanted


class SymantecEndpointSecuritySimulator(ProfileSimulator):
    def __init__(self, **options: Any) -> None:
        profile = load_profile(PROFILE)
        stream = profile.streams["incidents"]
        clock = stream.clock.model_copy(update={"start": datetime.now(timezone.utc) - timedelta(days=2)})
        profile = profile.model_copy(update={"streams": {**profile.streams,
                                                         "incidents": stream.model_copy(update={"clock": clock})}})
        super().__init__("symantec_endpoint_security", profile, **options)

    def search(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], int, int, bool]:
        rows = list(self.data.records["incidents"])
        now = datetime.now(timezone.utc)
        bounds = []
        for name in ("start_date", "end_date"):
            value = body.get(name)
            if value is None:
                bounds.append(None)
                continue
            try:
                bounds.append(parse_time(value, "iso8601"))
            except (ValueError, TypeError):
                raise Invalid(name) from None
        lo, hi = bounds
        if lo is not None and lo < now - MAX_AGE:
            raise Invalid("start_date cannot be older than 30 days")
        if lo is not None and hi is not None and hi < lo:
            raise Invalid("end_date before start_date")

        def inside(r: dict[str, Any]) -> bool:
            try:
                t = parse_time(read(r, "modified"), "iso8601")
            except (ValueError, TypeError):
                return lo is None and hi is None
            return (lo is None or t >= lo) and (hi is None or t <= hi)

        rows = [r for r in rows if inside(r)]
        query = body.get("query")
        if query is not None:
            if not isinstance(query, str):
                raise Invalid("query")
            states = states_of(query)
            if states is not None:
                rows = [r for r in rows if r.get("state_id") in states]
        rows.sort(key=lambda r: (order_value(r.get("modified")), order_value(r.get("incident_uid"))), reverse=True)
        offset, limit = body.get("next", 0), body.get("limit", 15)
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise Invalid("next")
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 2000:
            raise Invalid("limit")
        events = body.get("include_events", False)
        if not isinstance(events, bool):
            raise Invalid("include_events")
        return rows, offset, limit, events

    async def list_stream(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        if body is None:
            return self.error(400, headers, field="body")
        try:
            rows, offset, limit, events = self.search(body)
        except Invalid as exc:
            return self.error(400, headers, field=str(exc))
        page = rows[offset:offset + limit]
        if not events:
            page = [{k: v for k, v in copy.deepcopy(r).items() if k != "events"} for r in page]
        answer: dict[str, Any] = {"total": len(rows), "incidents": page}
        if offset + len(page) < len(rows):
            answer["next"] = offset + len(page)
        return self.answer(answer, headers=headers)


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (seed, records / incidents, malformed, per_timestamp, client_id,
    client_secret, token_ttl, rate_limit, rate_window_seconds, replay)."""
    return SymantecEndpointSecuritySimulator(**options).app()
