"""Simulator of the Zendesk Support API subset the connector uses.

Faithful to the public documentation:

* Incremental ticket export, cursor based -
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#incremental-ticket-export-cursor-based
  and https://developer.zendesk.com/documentation/api-basics/working-with-data/using-the-incremental-export-api/ :
  ``GET /api/v2/incremental/tickets/cursor.json?start_time=<unix seconds>`` for the first
  page, then ``?cursor=<after_cursor>``; ``per_page`` up to 1000 (default 1000); response
  ``{"tickets": [...], "after_url", "after_cursor", "before_url", "before_cursor",
  "end_of_stream"}``. Tickets are ordered by ``generated_timestamp`` (when the ticket was
  last changed, Unix seconds); a start_time less than a minute old is rejected (400); a
  missing start_time without a cursor is 400. ``after_cursor`` is always returned, so a
  client polls until a page is empty. Deleted tickets appear with status ``deleted``
  unless ``exclude_deleted=true``.
* Tickets - https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ :
  ``id``, ``url``, ``external_id``, ``via{channel}``, ``created_at``, ``updated_at``,
  ``type`` (problem|incident|question|task|null), ``subject``, ``raw_subject``,
  ``description``, ``priority`` (urgent|high|normal|low|null), ``status``
  (new|open|pending|hold|solved|closed), ``recipient``, ``requester_id``,
  ``submitter_id``, ``assignee_id``, ``organization_id``, ``group_id``,
  ``collaborator_ids``, ``follower_ids``, ``email_cc_ids``, ``problem_id``,
  ``has_incidents``, ``is_public``, ``due_at``, ``tags``, ``custom_fields``,
  ``satisfaction_rating``, ``ticket_form_id``, ``brand_id``, ``generated_timestamp``.
* Writes - https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#create-ticket ,
  #update-ticket and #list-tickets : ``POST /api/v2/tickets.json {"ticket": {subject, comment{body,
  public}, priority, type, status, external_id, tags}}`` -> 201 ``{"ticket", "audit"}``;
  ``PUT /api/v2/tickets/{id}.json {"ticket": {...}}`` updates fields and, with ``comment``,
  adds a comment; ``GET /api/v2/tickets.json?external_id=`` lists tickets by external id.
  Invalid input is 422 ``{"error": "RecordInvalid", "description", "details"}``, an unknown
  ticket 404 ``{"error": "RecordNotFound", "description": "Not found"}``.
* Auth - https://developer.zendesk.com/api-reference/introduction/security-and-auth/ :
  basic ``{email}/token:{api_token}`` (or an OAuth bearer token); failures are 401
  ``{"error": "Couldn't authenticate you"}``. ``GET /api/v2/users/me.json``.
* Rate limits - https://developer.zendesk.com/api-reference/introduction/rate-limits/ :
  ``ratelimit-limit``, ``ratelimit-remaining``, ``ratelimit-reset``, ``X-Rate-Limit``,
  ``X-Rate-Limit-Remaining``, ``Zendesk-RateLimit-incremental-exports``; 429 with ``Retry-After``.

Records are the vendor's own: seeded tickets are the corpus's recorded export tickets
(``corpus/tickets``) as templates, tickets created through the API the recorded create answer's
ticket (``corpus/push.create_ticket``), ids, subjects, codes and times varied; in replay mode
(``replay={"tickets": [...]}``) exactly the given records are exported, verbatim. A ticket's place in
the export is its ``generated_timestamp`` (a recorded ticket without one: its ``updated_at``).

Demo credentials: ``agent@example.com`` / ``demoZendeskApiToken0123456789``, or the OAuth token
``demoZendeskOAuthAccessToken0123456789``.
"""

from __future__ import annotations

import base64
import copy
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connectors import registry
from aria_connector_testkit.corpus import cases, records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, basic_credentials, record_counts, seed_records

DEMO_EMAIL = "agent@example.com"
DEMO_TOKEN = "demoZendeskApiToken0123456789"
DEMO_OAUTH_TOKEN = "demoZendeskOAuthAccessToken0123456789"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
SUBJECTS = ["Critical vulnerability on {h} needs patching", "Suspicious login reported by {u}", "Lost laptop - {u}",
            "Request: firewall exception for {h}", "Malware alert on {h}", "Password reset loop for {u}"]


def zdt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_cursor(ts: int, tid: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([ts, tid]).encode()).decode().rstrip("=")


def stamp_of(ticket: dict[str, Any]) -> int:
    """Where a ticket sorts in the export: its generated_timestamp, else its updated_at, else first."""
    if isinstance(ticket.get("generated_timestamp"), int):
        return ticket["generated_timestamp"]
    try:
        return int(datetime.fromisoformat(ticket["updated_at"].replace("Z", "+00:00")).timestamp())
    except (KeyError, AttributeError, ValueError):
        return 0


def decode_cursor(cursor: str) -> tuple[int, int]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    ts, tid = json.loads(raw)
    return int(ts), int(tid)


class ZendeskData(SeededData):
    """Tickets keyed by the simulator's own sequence number (a replayed record is stored as recorded);
    ``stamps`` holds each one's place in the export."""

    def __init__(self, seed: int, tickets: int, malformed: int = 0, per_timestamp: int = 2,
                 replay: list[dict[str, Any]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.stamps: dict[int, int] = {}
        self.base = f"https://example{seed}.zendesk.com"
        self.comments: dict[int, list[str]] = {}
        self.templates = records_for("zendesk", "tickets")
        self.created_template = next(c.response["body"]["ticket"] for c in cases(registry.get("zendesk"))
                                     if c.target == "push.create_ticket")
        if replay is not None:
            for record in replay:
                self._store(record)
        else:
            seed_records(self.add, tickets, malformed)

    def _store(self, ticket: dict[str, Any]) -> dict[str, Any]:
        key = len(self.tickets) + 1
        self.tickets[key], self.stamps[key] = ticket, stamp_of(ticket)
        return ticket

    def find(self, tid: int) -> tuple[int, dict[str, Any]] | None:
        return next(((k, t) for k, t in self.tickets.items() if t.get("id") == tid), None)

    def stamp(self, key: int, ts: int) -> None:
        ticket = self.tickets[key]
        ticket["updated_at"], ticket["generated_timestamp"] = zdt(datetime.fromtimestamp(ts, timezone.utc)), ts
        self.stamps[key] = ts

    @staticmethod
    def _from(template: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """A recorded ticket with ``fields`` set where it carries them, and the export's generated_timestamp."""
        ticket = copy.deepcopy(template)
        ticket.update({k: v for k, v in fields.items() if k in ticket or k == "generated_timestamp"})
        return ticket

    def add(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        updated = self.minute(T0)
        created = updated - timedelta(hours=rng.randrange(0, 300))
        tid = 10_000 + len(self.tickets) + 1
        subject = rng.choice(SUBJECTS).format(h=f"srv-{rng.randrange(1, 300):03d}", u=rng.choice(["alice", "bob", "carol"]))
        ticket = self._from(
            self.templates[len(self.tickets) % len(self.templates)], url=f"{self.base}/api/v2/tickets/{tid}.json",
            id=tid, external_id=None, created_at=zdt(created), updated_at=zdt(updated),
            generated_timestamp=int(updated.timestamp()), subject=subject, raw_subject=subject,
            description=f"{subject}. Details in the attached report.",
            priority=rng.choice(["low", "normal", "normal", "high", "urgent"]),
            status=rng.choice(["new", "open", "open", "pending", "hold", "solved", "closed"]),
            requester_id=360_000_000 + rng.randrange(1, 9999), submitter_id=360_000_000 + rng.randrange(1, 9999))
        if malformed:
            ticket["status"] = "archived?"  # not a Zendesk ticket status: fails mapping
            self.malformed["tickets"] += 1
        return self._store(ticket)

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        tid = 10_000 + len(self.tickets) + 1
        body = (fields.get("comment") or {}).get("body") or ""
        subject = fields.get("subject") or body[:80]
        ticket = self._from(
            self.created_template, url=f"{self.base}/api/v2/tickets/{tid}.json", id=tid,
            external_id=fields.get("external_id"), created_at=zdt(now), updated_at=zdt(now),
            generated_timestamp=int(now.timestamp()), type=fields.get("type"), subject=subject, raw_subject=subject,
            description=body, priority=fields.get("priority"), status=fields.get("status") or "new",
            tags=list(fields.get("tags") or []),
            is_public=bool((fields.get("comment") or {}).get("public", True)))
        self.comments[tid] = [body] if body else []
        return self._store(ticket)

    def touch(self, count: int) -> list[str]:
        oldest = sorted(self.tickets, key=lambda k: (self.stamps[k], k))[:count]
        for key in oldest:
            self.stamp(key, int(self.minute(T0).timestamp()))
            ticket = self.tickets[key]
            ticket["status"] = "solved" if ticket.get("status") != "solved" else "open"
        return [str(self.tickets[k].get("id")) for k in oldest]


class ZendeskSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, tickets: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, email: str = DEMO_EMAIL, api_token: str = DEMO_TOKEN,
                 oauth_token: str | None = DEMO_OAUTH_TOKEN, rate_limit: int = 10,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None,
                 **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, tickets=tickets), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.email, self.api_token, self.oauth_token = email, api_token, oauth_token
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        self.data = ZendeskData(**self.options, replay=None if self.replay is None else self.replay.get("tickets", []))
        self.created = 0  # tickets and comments created through the API (control protocol)

    @staticmethod
    def fault(status: int, headers: dict[str, str], retry_after: int | None, exhausted: bool = False) -> JSONResponse:
        if status == 429:
            description = ("Number of allowed incremental export API requests per minute exceeded" if exhausted
                           else "Rate limit exceeded")
            return JSONResponse({"error": "APIRateLimitExceeded", "description": description}, status_code=429,
                                headers={**headers, "Retry-After": str(retry_after or 1)})
        return JSONResponse({"error": "InternalError", "description": "Something went wrong"}, status_code=status,
                            headers=headers)

    def _after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(response, lambda fault: self.fault(fault.status, headers, fault.retry_after))

    @staticmethod
    def invalid(details: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
        return JSONResponse({"error": "RecordInvalid", "description": "Record validation errors", "details": details},
                            status_code=422, headers=headers)

    async def _ticket_body(self, request: Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        ticket = body.get("ticket") if isinstance(body, dict) else None
        return ticket if isinstance(ticket, dict) else None

    def _check(self, fields: dict[str, Any], headers: dict[str, str]) -> JSONResponse | None:
        if fields.get("priority") not in (None, "urgent", "high", "normal", "low"):
            return self.invalid({"priority": [{"description": "Priority: is not valid", "error": "InvalidValue"}]}, headers)
        if fields.get("status") not in (None, "new", "open", "pending", "hold", "solved", "closed"):
            return self.invalid({"status": [{"description": "Status: is not valid", "error": "InvalidValue"}]}, headers)
        if fields.get("type") not in (None, "problem", "incident", "question", "task"):
            return self.invalid({"type": [{"description": "Type: is not valid", "error": "InvalidValue"}]}, headers)
        return None

    async def tickets(self, request: Request) -> Response:
        denied, headers = self.guard(request, export=False)
        if denied:
            return denied
        if request.method == "GET":
            ext = request.query_params.get("external_id")
            rows = [t for t in self.data.tickets.values() if ext is None or t.get("external_id") == ext]
            return JSONResponse({"tickets": rows[:100], "next_page": None, "previous_page": None, "count": len(rows)},
                                headers=headers)
        fields = await self._ticket_body(request)
        if fields is None:
            return self.bad("InvalidEndpoint", "The request body must be {\"ticket\": {...}}", headers)
        if not (fields.get("comment") or {}).get("body"):
            return self.invalid({"description": [{"description": "Description: cannot be blank", "error": "BlankValue"}]}, headers)
        if (bad := self._check(fields, headers)) is not None:
            return bad
        ticket = self.data.create(fields)
        self.created += 1
        audit = {"id": ticket["id"] * 10, "ticket_id": ticket["id"], "created_at": ticket["created_at"], "events": []}
        return self._after_write(JSONResponse({"ticket": ticket, "audit": audit}, status_code=201, headers=headers), headers)

    async def ticket(self, request: Request) -> Response:
        denied, headers = self.guard(request, export=False)
        if denied:
            return denied
        try:
            found = self.data.find(int(request.path_params["ticket_id"]))
        except ValueError:
            found = None
        if found is None:
            return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, status_code=404, headers=headers)
        key, ticket = found
        if request.method == "GET":
            return JSONResponse({"ticket": ticket}, headers=headers)
        fields = await self._ticket_body(request)
        if fields is None:
            return self.bad("InvalidEndpoint", "The request body must be {\"ticket\": {...}}", headers)
        if (bad := self._check(fields, headers)) is not None:
            return bad
        for field in ("subject", "priority", "status", "type", "tags", "external_id", "assignee_id", "group_id"):
            if field in fields:
                ticket[field] = fields[field]
        if "subject" in fields:
            ticket["raw_subject"] = fields["subject"]
        comment = fields.get("comment")
        if isinstance(comment, dict) and comment.get("body"):
            self.data.comments.setdefault(ticket["id"], []).append(comment["body"])
            self.created += 1
        generated = max(int(time.time()), self.data.stamps[key] + 1)
        self.data.stamp(key, generated)
        audit = {"id": generated, "ticket_id": ticket["id"], "created_at": ticket["updated_at"], "events": []}
        return self._after_write(JSONResponse({"ticket": ticket, "audit": audit}, headers=headers), headers)

    def guard(self, request: Request, *, export: bool = True) -> tuple[Response | None, dict[str, str]]:
        """Rate budget (the incremental-export limit; other endpoints only count), faults, auth."""
        gate = self.control.admit(request, budget=export)
        reset = str(gate.reset_in)
        headers = {"ratelimit-limit": str(self.control.rate_limit), "ratelimit-remaining": str(gate.remaining),
                   "ratelimit-reset": reset, "X-Rate-Limit": "700", "X-Rate-Limit-Remaining": "699",
                   "Zendesk-RateLimit-incremental-exports": f"total={self.control.rate_limit}; remaining={gate.remaining}; resets={reset}"}
        if gate.status is not None:
            return self.fault(gate.status, headers, gate.retry_after, gate.exhausted), headers
        auth = request.headers.get("authorization", "")
        if self.oauth_token and auth == f"Bearer {self.oauth_token}":
            return None, headers
        if basic_credentials(request) != (f"{self.email}/token", self.api_token):
            return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401, headers=headers), headers
        return None, headers

    async def me(self, request: Request) -> Response:
        denied, headers = self.guard(request, export=False)
        if denied:
            return denied
        return JSONResponse({"user": {"id": 361_000_001, "url": f"{request.base_url}api/v2/users/361000001.json",
                                      "name": "Security Admin", "email": self.email, "role": "admin", "active": True,
                                      "time_zone": "UTC", "locale": "en-US"}}, headers=headers)

    @staticmethod
    def bad(error: str, description: str, headers: dict[str, str]) -> JSONResponse:
        return JSONResponse({"error": error, "description": description}, status_code=400, headers=headers)

    async def export(self, request: Request) -> Response:
        denied, headers = self.guard(request)
        if denied:
            return denied
        q = request.query_params
        try:
            per_page = int(q.get("per_page", "1000"))
        except ValueError:
            return self.bad("InvalidValue", "per_page must be an integer", headers)
        if not 1 <= per_page <= 1000:
            return self.bad("InvalidValue", "per_page must be between 1 and 1000", headers)
        stamps = self.data.stamps
        rows = [(stamps[k], k, t) for k, t in sorted(self.data.tickets.items(), key=lambda kt: (stamps[kt[0]], kt[0]))]
        if q.get("exclude_deleted") == "true":
            rows = [r for r in rows if r[2].get("status") != "deleted"]
        if q.get("cursor"):
            try:
                pos = decode_cursor(q["cursor"])
            except (ValueError, TypeError):
                return self.bad("InvalidPaginationParameter", "cursor is invalid", headers)
            rows = [r for r in rows if r[:2] > pos]
        elif q.get("start_time") is not None:
            try:
                start = int(q["start_time"])
            except ValueError:
                return self.bad("InvalidValue", "start_time must be a Unix epoch time in seconds", headers)
            if start > time.time() - 60:
                return self.bad("InvalidValue", "Too recent start_time. Use a start_time older than 1 minute", headers)
            rows = [r for r in rows if r[0] >= start]
            pos = (start - 1, 2**62)
        else:
            return self.bad("InvalidPaginationParameter", "start_time or cursor is required", headers)
        page = rows[:per_page]
        if page:
            pos = page[-1][:2]
        elif q.get("cursor"):
            pos = decode_cursor(q["cursor"])
        after = encode_cursor(*pos)
        base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
        return JSONResponse({"tickets": [t for _, _, t in page], "after_url": f"{base}?{urlencode({'cursor': after, 'per_page': per_page})}",
                             "after_cursor": after, "before_url": None, "before_cursor": None,
                             "end_of_stream": len(rows) <= per_page}, headers=headers)

    def streams(self) -> dict[str, Stream]:
        return {"tickets": Stream(self.data.tickets, self.data.malformed["tickets"], self.data.add, self.data.touch)}

    def routes(self) -> list[Route]:
        return [
            Route("/api/v2/users/me.json", self.me, methods=["GET"]),
            Route("/api/v2/incremental/tickets/cursor.json", self.export, methods=["GET"]),
            Route("/api/v2/tickets.json", self.tickets, methods=["GET", "POST"]),
            Route("/api/v2/tickets/{ticket_id}.json", self.ticket, methods=["GET", "PUT"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / tickets, malformed, per_timestamp, email, api_token, rate_limit (incremental
    export requests per window, default 10/min), rate_window_seconds, replay ({"tickets": [recorded
    tickets]}: exactly those, nothing seeded)."""
    return ZendeskSimulator(**options).app()
