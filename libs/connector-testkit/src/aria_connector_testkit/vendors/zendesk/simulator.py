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

Demo credentials: ``agent@example.com`` / ``demoZendeskApiToken0123456789``, or the OAuth token
``demoZendeskOAuthAccessToken0123456789``.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

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


def decode_cursor(cursor: str) -> tuple[int, int]:
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    ts, tid = json.loads(raw)
    return int(ts), int(tid)


class ZendeskData(SeededData):
    def __init__(self, seed: int, tickets: int, malformed: int = 0, per_timestamp: int = 2) -> None:
        super().__init__(seed, per_timestamp)
        self.tickets: dict[int, dict[str, Any]] = {}
        self.base = f"https://example{seed}.zendesk.com"
        self.comments: dict[int, list[str]] = {}
        seed_records(self.add, tickets, malformed)

    def add(self, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        updated = self.minute(T0)
        created = updated - timedelta(hours=rng.randrange(0, 300))
        tid = 10_000 + len(self.tickets) + 1
        subject = rng.choice(SUBJECTS).format(h=f"srv-{rng.randrange(1, 300):03d}", u=rng.choice(["alice", "bob", "carol"]))
        ticket = {
            "url": f"{self.base}/api/v2/tickets/{tid}.json", "id": tid, "external_id": None,
            "via": {"channel": rng.choice(["email", "web", "api"]), "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": zdt(created), "updated_at": zdt(updated), "generated_timestamp": int(updated.timestamp()),
            "type": rng.choice([None, "incident", "problem", "question", "task"]), "subject": subject, "raw_subject": subject,
            "description": f"{subject}. Details in the attached report.",
            "priority": rng.choice([None, "low", "normal", "normal", "high", "urgent"]),
            "status": rng.choice(["new", "open", "open", "pending", "hold", "solved", "closed"]),
            "recipient": "support@example.com", "requester_id": 360_000_000 + rng.randrange(1, 9999),
            "submitter_id": 360_000_000 + rng.randrange(1, 9999), "assignee_id": rng.choice([None, 361_000_001, 361_000_002]),
            "organization_id": rng.choice([None, 362_000_001]), "group_id": rng.choice([None, 363_000_001]),
            "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None, "problem_id": None,
            "has_incidents": False, "is_public": True, "due_at": None, "tags": rng.sample(["security", "it", "vip", "soc"], 2),
            "custom_fields": [{"id": 360_001, "value": None}], "satisfaction_rating": None, "sharing_agreement_ids": [],
            "custom_status_id": 1, "fields": [{"id": 360_001, "value": None}], "followup_ids": [], "ticket_form_id": 360_100,
            "brand_id": 360_200, "allow_channelback": False, "allow_attachments": True, "from_messaging_channel": False,
        }
        if malformed:
            ticket["status"] = "archived?"  # not a Zendesk ticket status: fails mapping
            self.malformed["tickets"] += 1
        self.tickets[tid] = ticket
        return ticket

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        tid = 10_000 + len(self.tickets) + 1
        body = (fields.get("comment") or {}).get("body") or ""
        ticket = {
            "url": f"{self.base}/api/v2/tickets/{tid}.json", "id": tid, "external_id": fields.get("external_id"),
            "via": {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}, "created_at": zdt(now),
            "updated_at": zdt(now), "generated_timestamp": int(now.timestamp()), "type": fields.get("type"),
            "subject": fields.get("subject") or body[:80], "raw_subject": fields.get("subject") or body[:80],
            "description": body, "priority": fields.get("priority"), "status": fields.get("status") or "new",
            "recipient": None, "requester_id": 361_000_001, "submitter_id": 361_000_001, "assignee_id": None,
            "organization_id": None, "group_id": None, "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [],
            "forum_topic_id": None, "problem_id": None, "has_incidents": False, "is_public": bool((fields.get("comment") or {}).get("public", True)),
            "due_at": None, "tags": list(fields.get("tags") or []), "custom_fields": [], "satisfaction_rating": None,
            "sharing_agreement_ids": [], "custom_status_id": 1, "fields": [], "followup_ids": [], "ticket_form_id": 360_100,
            "brand_id": 360_200, "allow_channelback": False, "allow_attachments": True, "from_messaging_channel": False,
        }
        self.tickets[tid] = ticket
        self.comments[tid] = [body] if body else []
        return ticket

    def touch(self, count: int) -> list[str]:
        oldest = sorted(self.tickets.values(), key=lambda t: (t["generated_timestamp"], t["id"]))[:count]
        for t in oldest:
            now = self.minute(T0)
            t["updated_at"], t["generated_timestamp"] = zdt(now), int(now.timestamp())
            t["status"] = "solved" if t["status"] != "solved" else "open"
        return [str(t["id"]) for t in oldest]


class ZendeskSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, tickets: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, email: str = DEMO_EMAIL, api_token: str = DEMO_TOKEN,
                 oauth_token: str | None = DEMO_OAUTH_TOKEN, rate_limit: int = 10,
                 rate_window_seconds: float = 60.0, **_ignored: Any) -> None:
        self.options = dict(seed=seed, **record_counts(records, tickets=tickets), malformed=malformed,
                            per_timestamp=per_timestamp)
        self.email, self.api_token, self.oauth_token = email, api_token, oauth_token
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = ZendeskData(**self.options)
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
            rows = [t for t in self.data.tickets.values() if ext is None or t["external_id"] == ext]
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
            ticket = self.data.tickets.get(int(request.path_params["ticket_id"]))
        except ValueError:
            ticket = None
        if ticket is None:
            return JSONResponse({"error": "RecordNotFound", "description": "Not found"}, status_code=404, headers=headers)
        if request.method == "GET":
            return JSONResponse({"ticket": ticket}, headers=headers)
        fields = await self._ticket_body(request)
        if fields is None:
            return self.bad("InvalidEndpoint", "The request body must be {\"ticket\": {...}}", headers)
        if (bad := self._check(fields, headers)) is not None:
            return bad
        for key in ("subject", "priority", "status", "type", "tags", "external_id", "assignee_id", "group_id"):
            if key in fields:
                ticket[key] = fields[key]
        if "subject" in fields:
            ticket["raw_subject"] = fields["subject"]
        comment = fields.get("comment")
        if isinstance(comment, dict) and comment.get("body"):
            self.data.comments.setdefault(ticket["id"], []).append(comment["body"])
            self.created += 1
        now = datetime.now(timezone.utc).replace(microsecond=0)
        generated = max(int(now.timestamp()), ticket["generated_timestamp"] + 1)
        ticket["updated_at"], ticket["generated_timestamp"] = zdt(datetime.fromtimestamp(generated, timezone.utc)), generated
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
        rows = sorted(self.data.tickets.values(), key=lambda t: (t["generated_timestamp"], t["id"]))
        if q.get("exclude_deleted") == "true":
            rows = [t for t in rows if t["status"] != "deleted"]
        if q.get("cursor"):
            try:
                pos = decode_cursor(q["cursor"])
            except (ValueError, TypeError):
                return self.bad("InvalidPaginationParameter", "cursor is invalid", headers)
            rows = [t for t in rows if (t["generated_timestamp"], t["id"]) > pos]
        elif q.get("start_time") is not None:
            try:
                start = int(q["start_time"])
            except ValueError:
                return self.bad("InvalidValue", "start_time must be a Unix epoch time in seconds", headers)
            if start > time.time() - 60:
                return self.bad("InvalidValue", "Too recent start_time. Use a start_time older than 1 minute", headers)
            rows = [t for t in rows if t["generated_timestamp"] >= start]
            pos = (start - 1, 2**62)
        else:
            return self.bad("InvalidPaginationParameter", "start_time or cursor is required", headers)
        page = rows[:per_page]
        if page:
            pos = (page[-1]["generated_timestamp"], page[-1]["id"])
        elif q.get("cursor"):
            pos = decode_cursor(q["cursor"])
        after = encode_cursor(*pos)
        base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
        return JSONResponse({"tickets": page, "after_url": f"{base}?{urlencode({'cursor': after, 'per_page': per_page})}",
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
    export requests per window, default 10/min), rate_window_seconds."""
    return ZendeskSimulator(**options).app()
