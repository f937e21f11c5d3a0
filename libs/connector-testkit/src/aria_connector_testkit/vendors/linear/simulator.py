"""Simulator of the Linear GraphQL API subset the connector uses.

Faithful to Linear's public developer documentation:

* Endpoint and auth - https://linear.app/developers/graphql : ``POST https://api.linear.app/graphql``
  with ``{"query", "variables"}``; personal API keys go in ``Authorization: <API_KEY>`` (no
  ``Bearer``); a bad key is answered with a GraphQL error whose ``extensions.code`` is
  ``AUTHENTICATION_ERROR``.
* Pagination - https://linear.app/developers/pagination : Relay connections ``first``/``after``
  (default 50, at most 250), ``nodes`` / ``edges { node cursor }`` and
  ``pageInfo { hasNextPage endCursor }``; ``orderBy: createdAt|updatedAt`` and
  ``sort: [IssueSortInput!]`` (e.g. ``{updatedAt: {order: Ascending}}``).
* Filtering - https://linear.app/developers/filtering : ``filter: IssueFilter`` with comparators
  (``updatedAt: {gte: ...}``, ``id: {eq: ...}``, ``team: {id: {eq: ...}}``).
* Mutations - https://linear.app/developers/graphql#creating-and-editing-issues :
  ``issueCreate(input: IssueCreateInput!)`` (``teamId``, ``title``, ``description``,
  ``priority`` 0-4, optional client-chosen ``id`` UUID) -> ``IssuePayload {success issue}``;
  ``issueUpdate(id: String!, input: IssueUpdateInput!)``; ``commentCreate(input:
  CommentCreateInput!)`` (``issueId``, ``body``, optional ``id``) -> ``CommentPayload {success comment}``.
* Issue fields (schema: https://studio.apollographql.com/public/Linear-API/variant/current/schema/reference/objects/Issue):
  ``id``, ``identifier`` (ENG-123), ``number``, ``title``, ``description`` (markdown),
  ``priority`` (0 none, 1 urgent, 2 high, 3 medium, 4 low), ``priorityLabel``, ``url``,
  ``createdAt``, ``updatedAt``, ``completedAt``, ``canceledAt``, ``state { id name type color }``
  (type triage|backlog|unstarted|started|completed|canceled), ``team { id key name }``,
  ``assignee { id name email }``, ``labels { nodes { id name } }``. Selecting a field the type
  does not have is a validation error (``Cannot query field "x" on type "Issue".``).
* Rate limiting - https://linear.app/developers/rate-limiting : a rejected request is HTTP 400
  with ``extensions.code: "RATELIMITED"`` (not 429), and responses carry
  ``X-RateLimit-Requests-Limit`` / ``-Remaining`` / ``-Reset`` (epoch milliseconds).
  Errors are ``{"errors": [{"message", "extensions": {"code", "type", "userPresentableMessage"}}]}``.

This simulator understands operations whose arguments are variables (``field(arg: $var)``),
which is what the connector sends. Malformed records are synthetic: issues with an empty
title (imported data), which the connector must count and skip.

Replay mode (``replay={"issues": [...]}``): the simulator holds exactly those recorded issue nodes,
in order, under its own keys, and answers the same queries with them; a replayed workspace holds
only the configured team, so the team filter keeps every replayed issue.

Demo API key: ``lin_api_demo0123456789``; team ``ENG`` (id ``9cfb482a-81e3-4154-b5b9-2c805e70a02d``).
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import random
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.simulators.base import Simulator, Stream, seed_records

DEMO_API_KEY = "lin_api_demo0123456789"
TEAM = {"id": "9cfb482a-81e3-4154-b5b9-2c805e70a02d", "key": "ENG", "name": "Engineering"}
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
STATES = [("Triage", "triage", "#FC7840"), ("Backlog", "backlog", "#bec2c8"), ("Todo", "unstarted", "#e2e2e2"),
          ("In Progress", "started", "#f2c94c"), ("Done", "completed", "#5e6ad2"), ("Canceled", "canceled", "#95a2b3")]
PRIORITY_LABELS = {0: "No priority", 1: "Urgent", 2: "High", 3: "Medium", 4: "Low"}
TITLES = ["Rotate leaked staging credentials", "Patch log4j in billing service", "Enable MFA for CI bot",
          "Close public S3 bucket", "Upgrade OpenSSL on edge nodes", "Review IAM wildcard policies"]


def ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _uuid(*parts: Any) -> str:
    return str(uuid.UUID(bytes=hashlib.md5(":".join(map(str, parts)).encode()).digest(), version=4))


# --- a minimal GraphQL document reader (selection sets, variable arguments) ------------------

class GraphQLError(Exception):
    def __init__(self, message: str, code: str = "GRAPHQL_VALIDATION_FAILED", status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


_TOK = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}():!,\[\]=$@.]|\.\.\.)|([A-Za-z_][A-Za-z0-9_]*)|(-?\d+(?:\.\d+)?))')


def _tokenize(src: str) -> list[str]:
    out, pos = [], 0
    while pos < len(src):
        if not src[pos:].strip():
            break
        m = _TOK.match(src, pos)
        if not m:
            raise GraphQLError(f"Syntax Error: Unexpected character at {pos}.")
        pos = m.end()
        if m.group(1):
            continue
        out.append(next(g for g in m.groups()[1:] if g is not None))
    return out


class _Parser:
    def __init__(self, src: str) -> None:
        self.t, self.i = _tokenize(src), 0

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, want: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (want is not None and tok != want):
            raise GraphQLError(f"Syntax Error: Expected {want or 'token'}, found {tok or '<EOF>'}.")
        self.i += 1
        return tok

    def document(self) -> tuple[str, list[tuple[str, dict[str, Any], list]]]:
        op = "query"
        if self.peek() in ("query", "mutation"):
            op = self.take()
            if self.peek() not in ("(", "{"):
                self.take()  # operation name
            if self.peek() == "(":
                depth = 0
                while True:  # variable definitions are not checked
                    tok = self.take()
                    depth += tok == "("
                    depth -= tok == ")"
                    if depth == 0:
                        break
        return op, self.selection_set()

    def selection_set(self) -> list[tuple[str, dict[str, Any], list]]:
        self.take("{")
        fields = []
        while self.peek() != "}":
            name = self.take()
            args: dict[str, Any] = {}
            if self.peek() == "(":
                self.take("(")
                while self.peek() != ")":
                    arg = self.take()
                    self.take(":")
                    args[arg] = self.value()
                    if self.peek() == ",":
                        self.take(",")
                self.take(")")
            sub = self.selection_set() if self.peek() == "{" else []
            fields.append((name, args, sub))
            if self.peek() == ",":
                self.take(",")
        self.take("}")
        return fields

    def value(self) -> Any:
        tok = self.take()
        if tok == "$":
            return ("$", self.take())
        if tok.startswith('"'):
            return json.loads(tok)
        if re.fullmatch(r"-?\d+(\.\d+)?", tok):
            return float(tok) if "." in tok else int(tok)
        if tok in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok]
        if tok in ("{", "["):
            raise GraphQLError("This simulator only accepts variables or scalars as arguments.")
        return tok  # enum value


def resolve_args(args: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    return {k: variables.get(v[1]) if isinstance(v, tuple) else v for k, v in args.items()}


def project(value: Any, selection: list, type_name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [project(v, selection, type_name) for v in value]
    if not isinstance(value, dict):
        if selection:
            raise GraphQLError(f'Field of type "{type_name}" must not have a selection since it is a scalar.')
        return value
    if not selection:
        raise GraphQLError(f'Field of type "{type_name}" must have a selection of subfields.')
    out = {}
    for name, _args, sub in selection:
        if name == "__typename":
            out[name] = value.get("__typename", type_name)
            continue
        if name not in value or name == "__typename":
            raise GraphQLError(f'Cannot query field "{name}" on type "{value.get("__typename", type_name)}".')
        out[name] = project(value[name], sub, name)
    return out


# --- data -------------------------------------------------------------------------------------

class LinearSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, issues: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, api_key: str = DEMO_API_KEY, rate_limit: int = 6000,
                 rate_window_seconds: float = 60.0, replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.options = dict(seed=seed, count=issues if issues is not None else (records or 40), malformed=malformed)
        self.per_timestamp = max(1, per_timestamp)
        self.api_key = api_key
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        self.rng = random.Random(self.options["seed"])
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.ticks = 0
        self.number = 0
        self.malformed = 0
        self.created = 0
        self.states = [{"__typename": "WorkflowState", "id": _uuid("state", n), "name": n, "type": t, "color": c}
                       for n, t, c in STATES]
        if self.replay is not None:
            self.issues = {f"replay-{n}": issue for n, issue in enumerate(copy.deepcopy(self.replay.get("issues", [])))}
        else:
            seed_records(self.add_issue, self.options["count"], self.options["malformed"])

    def now(self) -> str:
        bucket = self.ticks // self.per_timestamp
        self.ticks += 1
        return ts(T0 + timedelta(seconds=41 * bucket, milliseconds=(bucket * 13) % 1000))

    def add_issue(self, values: dict[str, Any] | None = None, malformed: bool = False) -> dict[str, Any]:
        rng = self.rng
        self.number += 1
        values = values or {}
        now = self.now()
        state = self.states[2] if values else rng.choice(self.states)
        priority = int(values.get("priority", rng.randrange(0, 5)))
        issue_id = values.get("id") or _uuid("issue", self.options["seed"], self.number)
        issue = {
            "__typename": "Issue", "id": issue_id, "identifier": f"{TEAM['key']}-{self.number}",
            "number": self.number, "title": values.get("title") or rng.choice(TITLES),
            "description": values.get("description"), "priority": priority,
            "priorityLabel": PRIORITY_LABELS[priority], "estimate": None,
            "url": f"https://linear.app/acme/issue/{TEAM['key'].lower()}-{self.number}",
            "branchName": f"eng-{self.number}", "createdAt": now, "updatedAt": now,
            "completedAt": now if state["type"] == "completed" else None,
            "canceledAt": now if state["type"] == "canceled" else None, "archivedAt": None,
            "state": dict(state), "team": {"__typename": "Team", **TEAM},
            "assignee": None if rng.random() < 0.4 else {"__typename": "User", "id": _uuid("user", 1),
                                                          "name": "Grace Hopper", "email": "grace@acme.example"},
            "labels": {"__typename": "IssueLabelConnection",
                       "nodes": [{"__typename": "IssueLabel", "id": _uuid("label", "security"), "name": "Security"}]},
        }
        if malformed:
            issue["title"] = ""
            self.malformed += 1
        self.issues[issue_id] = issue
        return issue

    def touch(self, count: int) -> list[str]:
        ids = sorted(self.issues, key=lambda i: self.issues[i]["number"])[:count]
        for i in ids:
            issue = self.issues[i]
            issue["state"] = dict(self.states[4])
            issue["updatedAt"] = issue["completedAt"] = self.now()
        return ids

    # -- resolvers ------------------------------------------------------------------------------

    @staticmethod
    def _compare(value: Any, comparator: dict[str, Any]) -> bool:
        for op, wanted in comparator.items():
            ok = {"eq": lambda: value == wanted, "neq": lambda: value != wanted,
                  "gt": lambda: value is not None and value > wanted, "gte": lambda: value is not None and value >= wanted,
                  "lt": lambda: value is not None and value < wanted, "lte": lambda: value is not None and value <= wanted,
                  "in": lambda: value in wanted, "nin": lambda: value not in wanted}.get(op)
            if ok is None:
                raise GraphQLError(f'Field "{op}" is not defined by type "Comparator".')
            if not ok():
                return False
        return True

    def _matches(self, issue: dict[str, Any], flt: dict[str, Any] | None) -> bool:
        for field, cond in (flt or {}).items():
            if field in ("updatedAt", "createdAt"):
                norm = {k: (v[:-1] if isinstance(v, str) and v.endswith("Z") else v) for k, v in cond.items()}
                if not self._compare(issue[field][:-1], norm):
                    return False
            elif field in ("id", "title", "priority", "number"):
                if not self._compare(issue[field], cond):
                    return False
            elif field == "team" and self.replay is not None:
                continue
            elif field in ("team", "state"):
                for sub, comparator in cond.items():
                    if not self._compare(issue[field].get(sub), comparator):
                        return False
            else:
                raise GraphQLError(f'Field "{field}" is not defined by type "IssueFilter".')
        return True

    def q_issues(self, args: dict[str, Any]) -> dict[str, Any]:
        first = args.get("first") or 50
        if not 1 <= int(first) <= 250:
            raise GraphQLError("first must be between 1 and 250", code="INVALID_INPUT")
        rows = [i for i in self.issues.values() if self._matches(i, args.get("filter"))]
        rows.sort(key=lambda i: (i["createdAt"], i["id"]))
        order_by = args.get("orderBy") or "createdAt"
        descending = True  # Linear's orderBy returns the most recent first
        key = order_by
        for spec in args.get("sort") or []:
            (key, opts), = spec.items()
            descending = (opts or {}).get("order", "Descending") == "Descending"
        if key not in ("createdAt", "updatedAt"):
            raise GraphQLError(f'Field "{key}" is not defined by type "IssueSortInput".')
        rows.sort(key=lambda i: (i[key], i["id"]), reverse=descending)
        start = 0
        if args.get("after"):
            try:
                start = int(base64.b64decode(args["after"]).decode().split(":")[1])
            except Exception:
                raise GraphQLError("Invalid cursor", code="INVALID_INPUT") from None
        page = rows[start:start + int(first)]
        cursor = lambda n: base64.b64encode(f"issue:{n}".encode()).decode()  # noqa: E731
        end = start + len(page)
        return {"__typename": "IssueConnection", "nodes": page,
                "edges": [{"node": n, "cursor": cursor(start + k + 1)} for k, n in enumerate(page)],
                "pageInfo": {"hasNextPage": end < len(rows), "hasPreviousPage": start > 0,
                             "startCursor": cursor(start + 1) if page else None, "endCursor": cursor(end) if page else None}}

    def q_comments(self, args: dict[str, Any]) -> dict[str, Any]:
        wanted = ((args.get("filter") or {}).get("id") or {}).get("eq")
        nodes = [c for c in self.comments.values() if wanted is None or c["id"] == wanted][: int(args.get("first") or 50)]
        return {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}

    def m_issue_create(self, args: dict[str, Any]) -> dict[str, Any]:
        inp = args.get("input") or {}
        if inp.get("teamId") != TEAM["id"]:
            raise GraphQLError("Argument Validation Error", code="INVALID_INPUT", status=200)
        if not inp.get("title"):
            raise GraphQLError("Argument Validation Error", code="INVALID_INPUT", status=200)
        if "priority" in inp and inp["priority"] not in PRIORITY_LABELS:
            raise GraphQLError("Argument Validation Error", code="INVALID_INPUT", status=200)
        if inp.get("id") in self.issues:
            raise GraphQLError("Entity already exists", code="INVALID_INPUT", status=200)
        extra = set(inp) - {"id", "teamId", "title", "description", "priority", "stateId", "assigneeId", "labelIds"}
        if extra:
            raise GraphQLError(f'Field "{sorted(extra)[0]}" is not defined by type "IssueCreateInput".')
        issue = self.add_issue(inp)
        self.created += 1
        return {"__typename": "IssuePayload", "success": True, "lastSyncId": self.ticks, "issue": issue}

    def m_issue_update(self, args: dict[str, Any]) -> dict[str, Any]:
        issue = self.issues.get(args.get("id")) or next(
            (i for i in self.issues.values() if i["identifier"] == args.get("id")), None)
        if issue is None:
            raise GraphQLError("Entity not found: Issue", code="INVALID_INPUT", status=200)
        inp = args.get("input") or {}
        extra = set(inp) - {"title", "description", "priority", "stateId", "assigneeId", "labelIds"}
        if extra:
            raise GraphQLError(f'Field "{sorted(extra)[0]}" is not defined by type "IssueUpdateInput".')
        for k, v in inp.items():
            if k == "priority":
                issue["priority"], issue["priorityLabel"] = int(v), PRIORITY_LABELS[int(v)]
            elif k == "stateId":
                issue["state"] = dict(next(s for s in self.states if s["id"] == v))
            elif k in ("title", "description"):
                issue[k] = v
        issue["updatedAt"] = self.now()
        return {"__typename": "IssuePayload", "success": True, "lastSyncId": self.ticks, "issue": issue}

    def m_comment_create(self, args: dict[str, Any]) -> dict[str, Any]:
        inp = args.get("input") or {}
        issue = self.issues.get(inp.get("issueId"))
        if issue is None or not inp.get("body"):
            raise GraphQLError("Argument Validation Error", code="INVALID_INPUT", status=200)
        cid = inp.get("id") or _uuid("comment", len(self.comments))
        if cid in self.comments:
            raise GraphQLError("Entity already exists", code="INVALID_INPUT", status=200)
        now = self.now()
        comment = {"__typename": "Comment", "id": cid, "body": inp["body"], "createdAt": now, "updatedAt": now,
                   "url": issue["url"] + f"#comment-{cid[:8]}", "issue": issue}
        self.comments[cid] = comment
        self.created += 1
        return {"__typename": "CommentPayload", "success": True, "lastSyncId": self.ticks, "comment": comment}

    # -- http ---------------------------------------------------------------------------------------

    def _headers(self, remaining: int, reset_in: float) -> dict[str, str]:
        return {"X-RateLimit-Requests-Limit": str(self.control.rate_limit),
                "X-RateLimit-Requests-Remaining": str(remaining),
                "X-RateLimit-Requests-Reset": str(int((time.time() + reset_in) * 1000))}

    @staticmethod
    def gql_error(status: int, message: str, code: str, headers: dict[str, str] | None = None,
                  user_message: str | None = None) -> JSONResponse:
        ext = {"code": code, "type": code.lower().replace("_", " "), "userPresentableMessage": user_message or message}
        return JSONResponse({"errors": [{"message": message, "extensions": ext}], "data": None},
                            status_code=status, headers=headers)

    def _ratelimited(self, headers: dict[str, str], wait: float) -> JSONResponse:
        return self.gql_error(400, "Rate limit exceeded", "RATELIMITED", {
            **headers, "X-RateLimit-Requests-Remaining": "0",
            "X-RateLimit-Requests-Reset": str(int((time.time() + wait) * 1000))},
            "You've exceeded the rate limit. Please try again later.")

    def _fault(self, status: int, wait: float, headers: dict[str, str]) -> Response:
        if status == 429:
            return self._ratelimited(headers, wait)
        return JSONResponse({"errors": [{"message": "Internal server error",
                                         "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]},
                            status_code=status, headers=headers)

    async def graphql(self, request: Request) -> Response:
        gate = self.control.admit(request)
        headers = self._headers(gate.remaining, gate.reset_in)
        if gate.status is not None:
            return self._fault(gate.status, gate.retry_after, headers)
        if request.headers.get("authorization", "") != self.api_key:
            return self.gql_error(400, "Authentication required, not authenticated", "AUTHENTICATION_ERROR", headers,
                                  "You need to authenticate to access this operation.")
        try:
            body = await request.json()
            op, selection = _Parser(body["query"]).document()
            variables = body.get("variables") or {}
        except GraphQLError as exc:
            return self.gql_error(exc.status, str(exc), exc.code, headers)
        except Exception:
            return self.gql_error(400, "Must provide query string.", "BAD_USER_INPUT", headers)
        resolvers = ({"issueCreate": self.m_issue_create, "issueUpdate": self.m_issue_update,
                      "commentCreate": self.m_comment_create} if op == "mutation" else
                     {"issues": self.q_issues, "comments": self.q_comments,
                      "viewer": lambda a: {"__typename": "User", "id": _uuid("user", "viewer"), "name": "ARIA",
                                           "email": "aria@acme.example", "active": True, "admin": False},
                      "organization": lambda a: {"__typename": "Organization", "id": _uuid("org"), "name": "Acme",
                                                 "urlKey": "acme"}})
        data: dict[str, Any] = {}
        try:
            for name, args, sub in selection:
                if name not in resolvers:
                    raise GraphQLError(f'Cannot query field "{name}" on type "{op.capitalize()}".')
                data[name] = project(resolvers[name](resolve_args(args, variables)), sub, name)
        except GraphQLError as exc:
            return self.gql_error(exc.status, str(exc), exc.code, headers)
        response = JSONResponse({"data": data}, headers=headers)
        if op == "mutation":
            write_fault = self.control.take_write_fault()
            if write_fault is not None:
                return self._fault(write_fault.status, float(write_fault.retry_after or 1), headers)
        return response

    def streams(self) -> dict[str, Stream]:
        return {"issues": Stream(self.issues, self.malformed, self.add_issue, self.touch)}

    def routes(self) -> list[Route]:
        return [
            Route("/graphql", self.graphql, methods=["POST"]),
        ]


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / issues, malformed, per_timestamp, api_key, rate_limit, rate_window_seconds,
    replay ({"issues": [recorded issue nodes]})."""
    return LinearSimulator(**options).app()
