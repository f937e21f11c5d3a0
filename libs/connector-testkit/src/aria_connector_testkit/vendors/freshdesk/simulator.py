"""Simulator of the Freshdesk API v2 subset the connector uses.

Faithful to the public documentation (https://developers.freshdesk.com/api/):

* Authentication - https://developers.freshdesk.com/api/#authentication : basic auth with the
  API key as user name and any password (``X``); failures are 401
  ``{"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}``.
* List all tickets - https://developers.freshdesk.com/api/#list_all_tickets :
  ``GET /api/v2/tickets`` with ``updated_since`` (ISO-8601, inclusive), ``order_by``
  (created_at|due_by|updated_at|status, default created_at), ``order_type`` (asc|desc,
  default desc), ``include`` (description, requester, stats, company). Without
  ``updated_since`` only tickets created within the past 30 days are listed; spam and
  deleted tickets are left out. Tickets: ``id``, ``subject``, ``description`` /
  ``description_text`` (with include=description), ``status`` (2 Open, 3 Pending,
  4 Resolved, 5 Closed, 6+ custom), ``priority`` (1 Low, 2 Medium, 3 High, 4 Urgent),
  ``source`` (1 Email, 2 Portal, 3 Phone, 7 Chat, 9 Feedback widget, 10 Outbound email),
  ``type``, ``requester_id``, ``responder_id``, ``group_id``, ``company_id``,
  ``product_id``, ``email_config_id``, ``to_emails``, ``cc_emails``, ``fwd_emails``,
  ``reply_cc_emails``, ``fr_escalated``, ``spam``, ``is_escalated``, ``tags``,
  ``custom_fields``, ``due_by``, ``fr_due_by``, ``created_at``, ``updated_at`` (UTC,
  ``2024-05-01T00:01:00Z``).
* Pagination - https://developers.freshdesk.com/api/#pagination : ``page`` (from 1) and
  ``per_page`` (default 30, max 100); a ``Link: <...>; rel="next"`` header when more pages exist.
* Rate limits - https://developers.freshdesk.com/api/#ratelimit : ``X-Ratelimit-Total``,
  ``X-Ratelimit-Remaining``, ``X-Ratelimit-Used-CurrentRequest``; 429 with ``Retry-After``.
* Errors - https://developers.freshdesk.com/api/#error : 400 ``{"description": "Validation
  failed", "errors": [{"field", "message", "code"}]}``.
* Writes - https://developers.freshdesk.com/api/#create_ticket , #update_ticket ,
  #add_note_to_a_ticket : ``POST /api/v2/tickets`` (one of ``email``/``requester_id``/... is
  mandatory; ``priority`` 1-4, ``status`` 2-5, ``source``, ``tags``) -> 201 ticket;
  ``PUT /api/v2/tickets/{id}`` -> 200 ticket; ``POST /api/v2/tickets/{id}/notes {body,
  private}`` -> 201 note; unknown ticket 404 (empty body).
* Filter tickets - https://developers.freshdesk.com/api/#filter_tickets :
  ``GET /api/v2/search/tickets?query="tag:'x' AND priority:3"`` (the query wrapped in double
  quotes) -> ``{"results": [...], "total": n}``, 30 per page. Here the index is immediate;
  Freshdesk's may lag.
* ``GET /api/v2/agents/me`` returns the authenticated agent.

Records are the vendor's own: seeded tickets are the corpus's recorded tickets
(``corpus/tickets``) as templates, their ids, subjects, codes and times varied by the seed; in
replay mode (``replay={"tickets": [...]}``) exactly the given records are served, verbatim.

Demo API key: ``demoFreshdeskKey01``. Control endpoints: ``/_sim/...``.
"""

from __future__ import annotations

import copy
import random
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, basic_credentials, json_object, record_counts, seed_records

DEMO_API_KEY = "demoFreshdeskKey01"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
SUBJECTS = ["Patch CVE-2024-3400 on perimeter firewalls", "Rotate exposed AWS access key", "Phishing report from finance team",
            "Remove local admin rights on WKS-{n}", "Investigate impossible travel alert", "Renew expiring TLS certificate",
            "Upgrade Log4j on app-{n}", "Disable legacy TLS 1.0 on mail gateway"]


def fdt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class FreshdeskData(SeededData):
    """Tickets keyed by the simulator's own sequence number: a replayed record is stored as recorded,
    whatever fields it lacks."""

    def __init__(self, seed: int, tickets: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: list[dict[str, Any]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.templates = records_for("freshdesk", "tickets")
        if replay is not None:
            self.tickets = {n: record for n, record in enumerate(replay, 1)}
        else:
            seed_records(self.add, tickets, malformed)

    def ticket(self, tid: int) -> dict[str, Any] | None:
        return next((t for t in self.tickets.values() if t.get("id") == tid), None)

    def _new(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A recorded ticket as a template with ``fields`` set: only fields the vendor's tickets carry."""
        key = len(self.tickets) + 1
        ticket = copy.deepcopy(self.templates[(key - 1) % len(self.templates)])
        ticket.update({k: v for k, v in fields.items() if k in ticket})
        ticket["id"] = key
        self.tickets[key] = ticket
        return ticket

    def add(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        updated = self.minute(T0)
        created = updated - timedelta(hours=rng.randrange(0, 240))
        ticket = self._new({
            "subject": rng.choice(SUBJECTS).format(n=rng.randrange(1, 500)), "priority": rng.choice([1, 2, 2, 3, 4]),
            "status": rng.choice([2, 2, 3, 4, 5, 6]), "source": rng.choice([1, 2, 3, 7, 10]),
            "requester_id": 201000000 + rng.randrange(1, 5000), "due_by": fdt(created + timedelta(days=3)),
            "fr_due_by": fdt(created + timedelta(hours=24)), "is_escalated": rng.random() < 0.1,
            "created_at": fdt(created), "updated_at": fdt(updated)})
        if malformed:
            ticket["priority"] = 9  # not a Freshdesk priority (1-4): fails mapping
            self.malformed["tickets"] += 1
        return ticket

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        now = fdt(datetime.now(timezone.utc))
        fields = {k: body[k] for k in ("subject", "priority", "status", "source", "type", "tags", "group_id",
                                       "responder_id", "requester_id", "cc_emails", "custom_fields") if k in body}
        return self._new({"priority": 1, "status": 2, "source": 2, **fields, "due_by": now, "fr_due_by": now,
                          "created_at": now, "updated_at": now})

    def touch(self, count: int) -> list[str]:
        oldest = sorted(self.tickets.values(), key=lambda t: (t["updated_at"], t["id"]))[:count]
        for t in oldest:
            t["updated_at"] = fdt(self.minute(T0))
            t["status"] = 4 if t["status"] != 4 else 2
        return [str(t["id"]) for t in oldest]


def _parse(value: str) -> datetime:
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class FreshdeskSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, tickets: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, api_key: str = DEMO_API_KEY, rate_limit: int = 100,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None,
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, tickets=tickets), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.api_key = api_key
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        self.data = FreshdeskData(**self.options, replay=None if self.replay is None else self.replay.get("tickets", []))
        self.created = 0  # tickets and notes created through the API (control protocol)
        self.notes: dict[int, list[dict[str, Any]]] = {}

    @staticmethod
    def fault(status: int, headers: dict[str, str], retry_after: int | None) -> JSONResponse:
        if status == 429:
            return JSONResponse({"code": "rate_limit_exceeded", "message": "You have exceeded the limit of requests per minute"},
                                status_code=429, headers={**headers, "Retry-After": str(retry_after or 1)})
        return JSONResponse({"code": "internal_error", "message": "We're sorry, but something went wrong."},
                            status_code=status, headers=headers)

    def _after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.fault(fault.status, headers, fault.retry_after))

    def _validate(self, body: dict[str, Any], headers: dict[str, str]) -> JSONResponse | None:
        if "priority" in body and body["priority"] not in (1, 2, 3, 4):
            return self.invalid("priority", "It should be one of these values: '1,2,3,4'", headers)
        if "status" in body and body["status"] not in (2, 3, 4, 5, 6):
            return self.invalid("status", "It should be one of these values: '2,3,4,5'", headers)
        if "subject" in body and not isinstance(body["subject"], str):
            return self.invalid("subject", "It should be a/an String", headers)
        return None

    async def create_ticket(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        if request.method == "GET":
            return await self.tickets(request, guarded=(headers,))
        body = await json_object(request)
        if body is None:
            return self.invalid("body", "Invalid JSON", headers)
        if not any(body.get(k) for k in ("email", "requester_id", "phone", "twitter_id", "facebook_id", "unique_external_id")):
            return JSONResponse({"description": "Validation failed", "errors": [{"field": "requester_id", "message":
                                 "Please fill at least 1 of email, mobile, phone, requester_id, unique_external_id, twitter_id, "
                                 "facebook_id fields", "code": "missing_field"}]}, status_code=400, headers=headers)
        if not body.get("subject") or not body.get("description"):
            return self.invalid("subject" if not body.get("subject") else "description", "It should not be blank", headers)
        if (bad := self._validate(body, headers)) is not None:
            return bad
        ticket = self.data.create(body)
        self.created += 1
        return self._after_write(JSONResponse(ticket, status_code=201, headers=headers), headers)

    def _guarded_ticket(self, request: Request) -> tuple[Response | None, dict[str, str], dict[str, Any]]:
        """The guard's answer, then the ticket the path names: (refusal or 404, headers, ticket)."""
        denied, headers = self.guard(request)
        if denied:
            return denied, headers, {}
        try:
            found = self.data.ticket(int(request.path_params["ticket_id"]))
        except ValueError:
            found = None
        if found is None:
            return Response(status_code=404, headers=headers), headers, {}
        return None, headers, found

    async def ticket(self, request: Request) -> Response:
        denied, headers, t = self._guarded_ticket(request)
        if denied:
            return denied
        if request.method == "GET":
            return JSONResponse(t, headers=headers)
        body = await json_object(request)
        if body is None:
            return self.invalid("body", "Invalid JSON", headers)
        if (bad := self._validate(body, headers)) is not None:
            return bad
        for key in ("subject", "priority", "status", "type", "tags", "group_id", "responder_id", "custom_fields"):
            if key in body:
                t[key] = body[key]
        t["updated_at"] = fdt(datetime.now(timezone.utc))
        return self._after_write(JSONResponse(t, headers=headers), headers)

    async def add_note(self, request: Request) -> Response:
        denied, headers, t = self._guarded_ticket(request)
        if denied:
            return denied
        body = await json_object(request)
        if body is None or not body.get("body"):
            return self.invalid("body", "It should not be blank", headers)
        now = fdt(datetime.now(timezone.utc))
        note = {"body": body["body"], "body_text": re.sub(r"<[^>]+>", "", body["body"]), "id": 201_500_000 + self.created,
                "incoming": False, "private": bool(body.get("private", True)), "user_id": 201000101,
                "support_email": None, "source": 2, "ticket_id": t["id"], "to_emails": [], "from_email": None,
                "cc_emails": None, "bcc_emails": None, "created_at": now, "updated_at": now, "attachments": []}
        self.notes.setdefault(t["id"], []).append(note)
        self.created += 1
        t["updated_at"] = now
        return self._after_write(JSONResponse(note, status_code=201, headers=headers), headers)

    async def search(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        query = request.query_params.get("query", "")
        if len(query) < 2 or not (query.startswith('"') and query.endswith('"')):
            return self.invalid("query", "It should be a/an String wrapped in double quotes", headers)
        rows = list(self.data.tickets.values())
        for term in re.split(r"\s+AND\s+", query[1:-1].strip()):
            m = re.fullmatch(r"(\w+):(?:'([^']*)'|(\d+))", term.strip())
            if not m or m.group(1) not in ("tag", "priority", "status", "type", "group_id", "agent_id"):
                return self.invalid("query", f"Invalid query term {term!r}", headers)
            field, text, num = m.groups()
            if field == "tag":
                rows = [t for t in rows if text in (t.get("tags") or [])]
            else:
                key = {"agent_id": "responder_id"}.get(field, field)
                want: Any = int(num) if num is not None else text
                rows = [t for t in rows if t.get(key) == want]
        rows.sort(key=lambda t: t.get("created_at") or "", reverse=True)
        return JSONResponse({"results": rows[:30], "total": len(rows)}, headers=headers)

    def guard(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        gate = self.control.admit(request)
        headers = {"X-Ratelimit-Total": str(self.control.rate_limit), "X-Ratelimit-Remaining": str(gate.remaining),
                   "X-Ratelimit-Used-CurrentRequest": "1", "X-Request-Id": str(random.getrandbits(64))}
        if gate.status is not None:
            return self.fault(gate.status, headers, gate.retry_after), headers
        if basic_credentials(request)[0] != self.api_key:
            return JSONResponse({"code": "invalid_credentials", "message": "You have to be logged in to perform this action."},
                                status_code=401, headers=headers), headers
        return None, headers

    @staticmethod
    def invalid(field: str, message: str, headers: dict[str, str]) -> JSONResponse:
        return JSONResponse({"description": "Validation failed",
                             "errors": [{"field": field, "message": message, "code": "invalid_value"}]},
                            status_code=400, headers=headers)

    async def me(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        return JSONResponse({"available": True, "occasional": False, "id": 201000101, "ticket_scope": 1,
                             "signature": None, "group_ids": [201000040], "role_ids": [201000001],
                             "contact": {"active": True, "email": "agent@example.com", "name": "Security Agent",
                                         "time_zone": "UTC", "language": "en"}, "type": "support_agent"},
                            headers=headers)

    async def tickets(self, request: Request, guarded: tuple[dict[str, str]] | None = None) -> Response:
        if guarded is None:
            denied, headers = self.guard(request)
            if denied:
                return denied
        else:
            headers = guarded[0]
        q = request.query_params
        try:
            page, per_page = int(q.get("page", "1")), int(q.get("per_page", "30"))
        except ValueError:
            return self.invalid("page", "It should be a/an Positive Integer", headers)
        if page < 1:
            return self.invalid("page", "It should be a/an Positive Integer", headers)
        if not 1 <= per_page <= 100:
            return self.invalid("per_page", "Must be a number between 1 and 100", headers)
        order_by, order_type = q.get("order_by", "created_at"), q.get("order_type", "desc")
        if order_by not in ("created_at", "due_by", "updated_at", "status") or order_type not in ("asc", "desc"):
            return self.invalid("order_by" if order_type in ("asc", "desc") else "order_type",
                                "It should be one of these values: 'created_at,due_by,updated_at,status'", headers)
        rows = [t for t in self.data.tickets.values() if not t.get("spam")]
        if q.get("updated_since"):
            try:
                since = _parse(q["updated_since"])
            except ValueError:
                return self.invalid("updated_since", "It should be in the 'valid date time' format", headers)
            rows = [t for t in rows if _parse(t["updated_at"]) >= since]
        else:
            cutoff = datetime.now(timezone.utc) - timedelta(days=30)
            rows = [t for t in rows if _parse(t["created_at"]) >= cutoff]
        rows.sort(key=lambda t: (t.get(order_by) is None, t.get(order_by) or "", t.get("id") or 0),
                  reverse=order_type == "desc")
        start = (page - 1) * per_page
        chunk = rows[start:start + per_page]
        include = {i.strip() for i in q.get("include", "").split(",") if i.strip()}
        out = []
        for t in chunk:
            r = dict(t)
            if "description" not in include:
                r.pop("description", None)
                r.pop("description_text", None)
            out.append(r)
        if start + per_page < len(rows):
            nxt = {**dict(q), "page": str(page + 1)}
            headers["Link"] = f'<{str(request.base_url).rstrip("/")}{request.url.path}?{urlencode(nxt)}>; rel="next"'
        return JSONResponse(out, headers=headers)

    def streams(self) -> dict[str, Stream]:
        return {"tickets": Stream(self.data.tickets, self.data.malformed["tickets"], self.data.add, self.data.touch)}

    def routes(self) -> list[Route]:
        return [
            Route("/api/v2/agents/me", self.me, methods=["GET"]),
            Route("/api/v2/tickets", self.create_ticket, methods=["GET", "POST"]),
            Route("/api/v2/tickets/{ticket_id}", self.ticket, methods=["GET", "PUT"]),
            Route("/api/v2/tickets/{ticket_id}/notes", self.add_note, methods=["POST"]),
            Route("/api/v2/search/tickets", self.search, methods=["GET"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / tickets, malformed, per_timestamp, api_key, rate_limit, rate_window_seconds,
    replay ({"tickets": [recorded tickets]}: exactly those, nothing seeded)."""
    return FreshdeskSimulator(**options).app()
