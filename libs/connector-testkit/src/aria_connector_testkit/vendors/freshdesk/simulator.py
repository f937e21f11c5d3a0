"""Freshdesk's writes and ticket search, on top of its profile (``simulator.yaml``: auth, errors,
the ticket list, seeded tickets). A profile cannot say these yet
(https://developers.freshdesk.com/api/):

* #create_ticket ``POST /api/v2/tickets`` (one of email / requester_id / phone / ... is
  mandatory; subject and description not blank; ``priority`` 1-4, ``status`` 2-6) -> 201 ticket;
* #update_ticket ``PUT /api/v2/tickets/{id}`` -> 200 ticket; #view_a_ticket ``GET`` the same;
  an unknown ticket is 404 with an empty body;
* #add_note_to_a_ticket ``POST /api/v2/tickets/{id}/notes {body, private}`` -> 201 note;
* #filter_tickets ``GET /api/v2/search/tickets?query="tag:'x' AND priority:3"`` (the query in
  double quotes) -> ``{"results": [...], "total": n}``, 30 a page. Here the index is immediate;
  Freshdesk's may lag.

Writes count in ``created`` and honour ``after_write`` faults (the control protocol).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import json_object
from aria_connector_testkit.simulators.profile import ProfileSimulator, load_profile

PROFILE = Path(__file__).with_name("simulator.yaml")
WRITABLE = ("subject", "priority", "status", "type", "tags", "group_id", "responder_id", "custom_fields")
REQUESTER = ("email", "requester_id", "phone", "twitter_id", "facebook_id", "unique_external_id")
SEARCHABLE = {"tag": "tags", "priority": "priority", "status": "status", "type": "type", "group_id": "group_id",
              "agent_id": "responder_id"}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskSimulator(ProfileSimulator):
    def reset(self) -> None:
        super().reset()
        self.created = 0  # tickets and notes created through the API
        self.notes: dict[int, list[dict[str, Any]]] = {}

    def tickets(self) -> list[dict[str, Any]]:
        return self.data.records["tickets"]

    def invalid(self, headers: dict[str, str], field: str, message: str) -> Response:
        return self.error(400, headers, field=field, message=message)

    def after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.error(fault.status, headers))

    def validate(self, body: dict[str, Any], headers: dict[str, str]) -> Response | None:
        if "priority" in body and body["priority"] not in (1, 2, 3, 4):
            return self.invalid(headers, "priority", "It should be one of these values: '1,2,3,4'")
        if "status" in body and body["status"] not in (2, 3, 4, 5, 6):
            return self.invalid(headers, "status", "It should be one of these values: '2,3,4,5'")
        if "subject" in body and not isinstance(body["subject"], str):
            return self.invalid(headers, "subject", "It should be a/an String")
        return None

    async def create_ticket(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        body = await json_object(request)
        if body is None:
            return self.invalid(headers, "body", "Invalid JSON")
        if not any(body.get(k) for k in REQUESTER):
            return self.invalid(headers, "requester_id", "Please fill at least 1 of email, mobile, phone, "
                                "requester_id, unique_external_id, twitter_id, facebook_id fields")
        if not body.get("subject") or not body.get("description"):
            blank = "subject" if not body.get("subject") else "description"
            return self.invalid(headers, blank, "It should not be blank")
        if (bad := self.validate(body, headers)) is not None:
            return bad
        # a seeded ticket (a recorded one, varied) with the request's fields: only those tickets carry
        ticket = self.data.add("tickets")
        stamp = now()
        ticket.update({k: v for k, v in {"priority": 1, "status": 2, "source": 2, **body, "due_by": stamp,
                                         "fr_due_by": stamp, "created_at": stamp, "updated_at": stamp}.items()
                       if k in ticket})
        self.created += 1
        return self.after_write(JSONResponse(ticket, status_code=201, headers=headers), headers)

    def found(self, request: Request) -> dict[str, Any] | None:
        ticket_id = request.path_params["ticket_id"]
        return next((t for t in self.tickets() if str(t.get("id")) == ticket_id), None)

    async def ticket(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        if (t := self.found(request)) is None:
            return Response(status_code=404, headers=headers)
        if request.method == "GET":
            return JSONResponse(t, headers=headers)
        body = await json_object(request)
        if body is None:
            return self.invalid(headers, "body", "Invalid JSON")
        if (bad := self.validate(body, headers)) is not None:
            return bad
        t.update({k: body[k] for k in WRITABLE if k in body}, updated_at=now())
        return self.after_write(JSONResponse(t, headers=headers), headers)

    async def add_note(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        if (t := self.found(request)) is None:
            return Response(status_code=404, headers=headers)
        body = await json_object(request)
        if body is None or not body.get("body"):
            return self.invalid(headers, "body", "It should not be blank")
        stamp = now()
        note = {"body": body["body"], "body_text": re.sub(r"<[^>]+>", "", body["body"]),
                "id": 201_500_000 + self.created, "incoming": False, "private": bool(body.get("private", True)), "user_id": 201000101,
                "support_email": None, "source": 2, "ticket_id": t["id"], "to_emails": [], "from_email": None,
                "cc_emails": None, "bcc_emails": None, "created_at": stamp, "updated_at": stamp, "attachments": []}
        self.notes.setdefault(t["id"], []).append(note)
        self.created += 1
        t["updated_at"] = stamp
        return self.after_write(JSONResponse(note, status_code=201, headers=headers), headers)

    async def search(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        query = request.query_params.get("query", "")
        if len(query) < 2 or not (query.startswith('"') and query.endswith('"')):
            return self.invalid(headers, "query", "It should be a/an String wrapped in double quotes")
        rows = list(self.tickets())
        for term in re.split(r"\s+AND\s+", query[1:-1].strip()):
            m = re.fullmatch(r"(\w+):(?:'([^']*)'|(\d+))", term.strip())
            if not m or m.group(1) not in SEARCHABLE:
                return self.invalid(headers, "query", f"Invalid query term {term!r}")
            field, text, num = m.groups()
            key = SEARCHABLE[field]
            if field == "tag":
                rows = [t for t in rows if text in (t.get(key) or [])]
            else:
                rows = [t for t in rows if t.get(key) == (int(num) if num is not None else text)]
        rows.sort(key=lambda t: t.get("created_at") or "", reverse=True)
        return JSONResponse({"results": rows[:30], "total": len(rows)}, headers=headers)

    def routes(self) -> list[Route]:
        return [
            *super().routes(),  # GET /api/v2/tickets, /api/v2/agents/me
            Route("/api/v2/tickets", self.create_ticket, methods=["POST"]),
            Route("/api/v2/tickets/{ticket_id}", self.ticket, methods=["GET", "PUT"]),
            Route("/api/v2/tickets/{ticket_id}/notes", self.add_note, methods=["POST"]),
            Route("/api/v2/search/tickets", self.search, methods=["GET"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: those of the profile (``simulators.profile.ProfileSimulator``: seed, records / tickets,
    malformed, per_timestamp, api_key, rate_limit, rate_window_seconds, replay)."""
    return FreshdeskSimulator("freshdesk", load_profile(PROFILE), **options).app()
