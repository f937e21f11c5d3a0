"""Simulator of the Jira Cloud platform REST API v3 subset the connector uses.

Faithful to Atlassian's public reference:

* Auth - https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/ :
  HTTP basic with the account e-mail and an API token; a bad pair is 401
  ``{"errorMessages": ["You are not authenticated. ..."], "errors": {}}``.
* Myself - https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/ :
  ``GET /rest/api/3/myself`` -> ``{accountId, accountType, emailAddress, displayName, active, timeZone, ...}``.
* Issue search - https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-search/
  (``POST /rest/api/3/search/jql``, "enhanced search"): body ``{jql, nextPageToken, maxResults,
  fields}``; the JQL must be bounded (a restriction is required); only ``id`` is returned per
  issue unless ``fields`` is given (``*all``, ``*navigable`` or field ids); the response is
  ``{issues: [...], nextPageToken}`` with no ``nextPageToken`` on the last page; maxResults
  defaults to 50 and is capped at 5000 (100 when fields are requested).
* JQL - https://support.atlassian.com/jira-software-cloud/docs/jql-fields/ : date values
  ``"yyyy/MM/dd HH:mm"``, ``"yyyy-MM-dd HH:mm"``, ``"yyyy/MM/dd"``, ``"yyyy-MM-dd"`` (minute
  precision, the user's time zone - UTC here); this simulator understands ``field op value``
  clauses joined by ``AND`` (``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``in (...)``) on
  project, key, labels, status, priority, updated, created, and ``ORDER BY f [ASC|DESC], ...``.
* Issues - https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/ :
  ``POST /rest/api/3/issue`` ``{fields: {project, issuetype, summary, description (ADF), labels,
  priority}}`` -> 201 ``{id, key, self}``; ``PUT /rest/api/3/issue/{issueIdOrKey}`` -> 204
  (status is not editable, use transitions); 404 ``Issue does not exist or you do not have
  permission to see it.``; field errors are 400 ``{"errorMessages": [], "errors": {field: msg}}``.
* Comments - https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issue-comments/ :
  ``POST /rest/api/3/issue/{issueIdOrKey}/comment`` ``{body: ADF}`` -> 201 comment.
* ADF - https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/ :
  ``{"type": "doc", "version": 1, "content": [...]}``.
* Rate limiting - https://developer.atlassian.com/cloud/jira/platform/rate-limiting/ : 429 with
  ``Retry-After`` (seconds) and ``X-RateLimit-Reset`` (ISO 8601); ``X-RateLimit-Limit`` /
  ``X-RateLimit-Remaining`` on responses.
* Timestamps ``2024-05-01T10:00:00.000+0000``; priorities Highest/High/Medium/Low/Lowest;
  status categories ``new`` / ``indeterminate`` / ``done``. Priority can be null when the
  priority field is hidden from the issue type's screen. Malformed records are synthetic: an
  issue whose summary is null (Jira requires one), which the connector must count and skip.
* Webhooks - https://developer.atlassian.com/cloud/jira/platform/webhooks/ : an admin webhook
  registered with a secret signs each delivery, ``X-Hub-Signature: sha256=<hex HMAC-SHA256 of
  the raw body>``, and names it ``X-Atlassian-Webhook-Identifier`` (the same on retries);
  ``sign_webhook`` is that sender side.

Seeded issues are made from the recorded enhanced-search issues of the corpus (``corpus/issues``),
so the simulator sends only shapes Jira sent. Replay mode (``replay={"issues": [...]}``): the
simulator holds exactly those recorded issues, in order, under its own keys, and serves them
through the same search; a replayed tenant holds only the configured project, so the JQL project
clause keeps every replayed issue.

Demo credentials: ``demo@example.com`` / ``demo-api-token``; project ``SEC``.
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import random
import re
from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connectors import registry
from aria_connector_testkit.corpus import cases, records_of
from aria_connector_testkit.simulators.base import Simulator, Stream, basic_credentials, record_counts, seed_records

DEMO_EMAIL = "demo@example.com"
DEMO_TOKEN = "demo-api-token"
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=timezone.utc)
SEARCH_PATH = "/rest/api/3/search/jql"
PRIORITIES = [("1", "Highest"), ("2", "High"), ("3", "Medium"), ("4", "Low"), ("5", "Lowest")]
STATUSES = [("10000", "To Do", 2, "new", "blue-gray"), ("3", "In Progress", 4, "indeterminate", "yellow"),
            ("10001", "Done", 3, "done", "green")]
ISSUE_TYPES = {"Task": "10002", "Bug": "10004", "Story": "10001"}
SUMMARIES = ["Public S3 bucket exposes backups", "EDR agent offline on finance laptops", "Outdated OpenSSL on edge proxy",
             "MFA disabled for service account", "Suspicious PowerShell on build server", "Expired TLS certificate"]


@cache
def _templates() -> list[dict[str, Any]]:
    """The issues Jira answered to the enhanced search (the request this simulator serves) in the
    corpus: the seeded issues are made from them, so the simulator sends only recorded shapes.
    (Not ``corpus.records_for``: the corpus also holds other search endpoints' issues.)"""
    plugin = registry.get("jira_cloud")
    return [r for c in cases(plugin) if c.request.get("path") == SEARCH_PATH for r in records_of(plugin, c)]


def jira_ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def parse_jira_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def is_adf(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1
            and isinstance(value.get("content"), list))


class JqlError(ValueError):
    pass


_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_TOKEN = re.compile(r'\s*(?:(\()|(\))|(,)|("(?:[^"\\]|\\.)*")|(\'[^\']*\')|(!=|>=|<=|=|>|<|~)|([A-Za-z0-9_.\-/:]+))')


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise JqlError(f"Error in the JQL Query: unexpected character at position {pos}.")
        out.append(next(g for g in m.groups() if g is not None))
        pos = m.end()
    return out


def _unquote(tok: str) -> str:
    if tok[:1] in "\"'":
        return tok[1:-1].replace('\\"', '"')
    return tok


def parse_jql(jql: str) -> tuple[list[tuple[str, str, Any]], list[tuple[str, bool]]]:
    """(clauses, order) for the supported subset."""
    m = re.search(r"\border\s+by\b", jql, re.IGNORECASE)
    where, order_txt = (jql[:m.start()], jql[m.end():]) if m else (jql, "")
    clauses: list[tuple[str, str, Any]] = []
    toks = _tokens(where)
    i = 0
    while i < len(toks):
        if clauses:
            if toks[i].upper() != "AND":
                raise JqlError(f"Error in the JQL Query: expecting 'AND' but got '{toks[i]}'.")
            i += 1
        if i + 2 > len(toks):
            raise JqlError("Error in the JQL Query: incomplete clause.")
        field, op = toks[i].lower(), toks[i + 1]
        if op.lower() in ("in", "not"):
            neg = op.lower() == "not"
            i += 2 if not neg else 3
            if i >= len(toks) or toks[i] != "(":
                raise JqlError("Error in the JQL Query: expecting '(' after 'in'.")
            values, i = [], i + 1
            while toks[i] != ")":
                if toks[i] != ",":
                    values.append(_unquote(toks[i]))
                i += 1
            clauses.append((field, "not in" if neg else "in", values))
            i += 1
            continue
        if op not in ("=", "!=", ">", ">=", "<", "<="):
            raise JqlError(f"Error in the JQL Query: the operator '{op}' is not supported.")
        clauses.append((field, op, _unquote(toks[i + 2])))
        i += 3
    order: list[tuple[str, bool]] = []
    for part in [p.strip() for p in order_txt.split(",") if p.strip()]:
        bits = part.split()
        order.append((bits[0].lower(), len(bits) > 1 and bits[1].upper() == "DESC"))
    return clauses, order


def _jql_date(value: str, field: str) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise JqlError(f"Date value '{value}' for field '{field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
                   "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.")


def _key_num(key: str) -> tuple[str, int]:
    proj, _, num = key.partition("-")
    return proj, int(num or 0)


class JiraData:
    def __init__(self, seed: int, issues: int, malformed: int, per_timestamp: int, project: str,
                 replay: list[dict[str, Any]] | None = None) -> None:
        self.rng = random.Random(seed)
        self.project = project
        self.per_timestamp = max(1, per_timestamp)
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self.next_id = 10000
        self.next_num = 1
        self.ticks = 0
        self.malformed = 0
        self.replaying = replay is not None
        if replay is not None:
            self.issues = {f"replay-{n}": issue for n, issue in enumerate(replay)}
        else:
            seed_records(self.add_issue, issues, malformed)

    def now(self) -> datetime:
        """Deterministic clock: ``per_timestamp`` consecutive changes share a millisecond; changes are 17 s
        apart so several share a JQL minute."""
        bucket = self.ticks // self.per_timestamp
        self.ticks += 1
        return T0 + timedelta(seconds=17 * bucket, milliseconds=(bucket * 7) % 1000)

    def user(self, name: str) -> dict[str, Any]:
        account = "5b10ac8d82e05b22cc7d" + hashlib.md5(name.encode()).hexdigest()[:4]
        return {"self": f"/rest/api/3/user?accountId={account}", "accountId": account, "displayName": name,
                "active": True, "timeZone": "Etc/UTC", "accountType": "atlassian"}

    def add_issue(self, fields: dict[str, Any] | None = None, malformed: bool = False) -> dict[str, Any]:
        """An issue made from a recorded one (a template picked by the seed): its own keys and
        nesting stay, the values the simulation needs (identity, summary, status, priority, labels,
        times, type, project, assignee) are set in the shapes Jira recorded."""
        rng = self.rng
        issue_id = str(self.next_id)
        key = f"{self.project}-{self.next_num}"
        self.next_id += 1
        self.next_num += 1
        ts = self.now()
        fields = fields or {}
        prio_id, prio_name = PRIORITIES[rng.randrange(len(PRIORITIES))]
        if fields.get("priority"):
            wanted = fields["priority"].get("name") or fields["priority"].get("id")
            prio_id, prio_name = next(p for p in PRIORITIES if wanted in p)
        status = STATUSES[0] if fields else STATUSES[rng.randrange(len(STATUSES))]
        itype = (fields.get("issuetype") or {}).get("name") or "Task"
        issue = copy.deepcopy(rng.choice(_templates()))
        issue.update(id=issue_id, key=key)
        if "self" in issue:
            issue["self"] = f"/rest/api/3/issue/{issue_id}"
        f = issue.setdefault("fields", {})
        f.update({
            "summary": fields.get("summary") or f"{rng.choice(SUMMARIES)} ({key})",
            "status": self._status(status),
            "priority": {"self": f"/rest/api/3/priority/{prio_id}", "iconUrl": "", "name": prio_name, "id": prio_id},
            "labels": list(fields.get("labels") or rng.choice([[], ["security"], ["security", "edr"]])),
            "created": jira_ts(ts),
            "updated": jira_ts(ts),
            "issuetype": {"self": f"/rest/api/3/issuetype/{ISSUE_TYPES.get(itype, '10002')}",
                          "id": ISSUE_TYPES.get(itype, "10002"), "description": "", "iconUrl": "", "name": itype,
                          "subtask": False, "hierarchyLevel": 0},
            "project": {"self": "/rest/api/3/project/10000", "id": "10000", "key": self.project,
                        "name": "Security", "projectTypeKey": "software", "simplified": False},
            "assignee": self.user(rng.choice(["Ada Lovelace", "Alan Turing"])),
        })
        if fields.get("description"):
            f["description"] = fields["description"]
        if malformed:
            f["summary"] = None
            self.malformed += 1
        self.issues[key] = issue
        return issue

    @staticmethod
    def _status(status: tuple) -> dict[str, Any]:
        sid, name, cat_id, cat_key, color = status
        return {"self": f"/rest/api/3/status/{sid}", "description": "", "iconUrl": "", "name": name, "id": sid,
                "statusCategory": {"self": f"/rest/api/3/statuscategory/{cat_id}", "id": cat_id, "key": cat_key,
                                   "colorName": color, "name": name}}

    def touch(self, count: int) -> list[str]:
        keys = sorted(self.issues, key=_key_num)[:count]
        for k in keys:
            issue = self.issues[k]
            status = STATUSES[(next(i for i, s in enumerate(STATUSES) if s[0] == issue["fields"]["status"]["id"]) + 1)
                              % len(STATUSES)]
            issue["fields"]["status"] = self._status(status)
            issue["fields"]["updated"] = jira_ts(self.now())
        return keys

    def find(self, id_or_key: str) -> dict[str, Any] | None:
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        return next((i for i in self.issues.values() if i["id"] == id_or_key), None)

    def matches(self, issue: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
        f = issue["fields"]
        for field, op, value in clauses:
            if field in ("updated", "created", "updateddate", "createddate"):
                name = "updated" if field.startswith("updated") else "created"
                if op in ("in", "not in"):
                    raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
                if name not in f:  # a replayed answer to a search that did not ask for the field: it matched
                    continue
                actual, wanted = parse_jira_ts(f[name]), _jql_date(value, field)
                if not {"=": actual == wanted, "!=": actual != wanted, ">": actual > wanted, ">=": actual >= wanted,
                        "<": actual < wanted, "<=": actual <= wanted}[op]:
                    return False
                continue
            if field == "project" and self.replaying:
                continue
            if field == "project":
                actual_set = {f["project"]["key"].lower(), f["project"]["id"]}
            elif field in ("key", "issuekey", "id"):
                actual_set = {issue["key"].lower(), issue["id"]}
            elif field == "labels":
                actual_set = {label.lower() for label in f["labels"]}
            elif field == "status":
                actual_set = {f["status"]["name"].lower(), f["status"]["id"]}
            elif field == "priority":
                actual_set = {f["priority"]["name"].lower(), f["priority"]["id"]} if f["priority"] else set()
            else:
                raise JqlError(f"Field '{field}' does not exist or you do not have permission to view it.")
            values = [str(v).lower() for v in (value if isinstance(value, list) else [value])]
            hit = any(v in actual_set for v in values)
            if op in ("=", "in") and not hit or op in ("!=", "not in") and hit:
                return False
            if op in (">", ">=", "<", "<="):
                raise JqlError(f"The operator '{op}' is not supported by the '{field}' field.")
        return True

    @staticmethod
    def sort(issues: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
        out = sorted(issues, key=lambda i: _key_num(i["key"]), reverse=True)  # Jira's default: key DESC
        for field, desc in reversed(order):
            if field in ("updated", "created"):
                out.sort(key=lambda i: parse_jira_ts(i["fields"][field]) if field in i["fields"] else T0, reverse=desc)
            elif field in ("key", "issuekey", "id"):
                out.sort(key=lambda i: _key_num(i["key"]), reverse=desc)
            elif field == "priority":
                out.sort(key=lambda i: (i["fields"]["priority"] or {}).get("id", "9"), reverse=desc)
            else:
                raise JqlError(f"Not able to sort using field '{field}'.")
        return out


class JiraSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, issues: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, email: str = DEMO_EMAIL, api_token: str = DEMO_TOKEN, project: str = "SEC",
                 rate_limit: int = 6000, rate_window_seconds: float = 60.0,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.options = dict(seed=seed, **record_counts(records, 40, issues=issues), malformed=malformed, per_timestamp=per_timestamp, project=project)
        self.email, self.api_token = email, api_token
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds, replay=replay)

    def reset(self) -> None:
        replayed = None if self.replay is None else copy.deepcopy(self.replay.get("issues", []))
        self.data = JiraData(**self.options, replay=replayed)
        self.created = 0

    # -- helpers ----------------------------------------------------------------------------

    def _headers(self, remaining: int) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.control.rate_limit), "X-RateLimit-Remaining": str(remaining),
                "X-AREQUESTID": str(random.randrange(10**8))}

    @staticmethod
    def error(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None,
              headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"errorMessages": messages or [], "errors": errors or {}}, status_code=status, headers=headers)

    def _fault_response(self, status: int, wait: int, headers: dict[str, str]) -> JSONResponse:
        if status == 429:
            reset = (datetime.now(timezone.utc) + timedelta(seconds=wait)).strftime("%Y-%m-%dT%H:%MZ")
            return self.error(429, ["Rate limit exceeded."], headers={**headers, "Retry-After": str(wait),
                                                                       "X-RateLimit-Reset": reset,
                                                                       "RateLimit-Reason": "jira-burst-based"})
        return self.error(status, ["Internal server error"], headers=headers)

    async def guard(self, request: Request) -> tuple[JSONResponse | None, dict[str, str]]:
        gate = self.control.admit(request)
        headers = self._headers(gate.remaining)
        if gate.status is not None:
            return self._fault_response(gate.status, gate.retry_after, headers), headers
        if basic_credentials(request) != (self.email, self.api_token):
            return self.error(401, ["You are not authenticated. Authentication required to perform this operation."],
                              headers={**headers, "WWW-Authenticate": 'Basic realm="protected-by-api-token"'}), headers
        return None, headers

    def _after_write(self, response: Response, headers: dict[str, str]) -> Response:
        return self.control.answer_write(
            response, lambda fault: self._fault_response(fault.status, fault.retry_after or 1, headers))

    def _abs(self, request: Request, issue: dict[str, Any]) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        out = json.loads(json.dumps(issue))
        if out.get("self", "").startswith("/"):
            out["self"] = base + out["self"]
        return out

    # -- endpoints --------------------------------------------------------------------------

    async def myself(self, request: Request) -> Response:
        denied, headers = await self.guard(request)
        if denied:
            return denied
        user = self.data.user("ARIA Integration")
        return JSONResponse({**user, "self": str(request.base_url).rstrip("/") + user["self"],
                             "emailAddress": self.email, "locale": "en_US", "groups": {"size": 3, "items": []},
                             "applicationRoles": {"size": 1, "items": []}, "expand": "groups,applicationRoles"},
                            headers=headers)

    async def search(self, request: Request) -> Response:
        denied, headers = await self.guard(request)
        if denied:
            return denied
        try:
            body = await request.json()
            assert isinstance(body, dict)
        except Exception:
            return self.error(400, ["Invalid request payload. Refer to the REST API documentation and try again."],
                              headers=headers)
        jql = body.get("jql")
        if not isinstance(jql, str) or not jql.strip():
            return self.error(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to "
                                    "your query."], headers=headers)
        try:
            clauses, order = parse_jql(jql)
            if not clauses:
                raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction to your "
                               "query.")
            matched = self.data.sort([i for i in self.data.issues.values() if self.data.matches(i, clauses)], order)
        except JqlError as exc:
            return self.error(400, [str(exc)], headers=headers)
        fields = body.get("fields")
        if fields is not None and not isinstance(fields, list):
            return self.error(400, ["fields must be a list"], headers=headers)
        fields = fields or ["id"]
        cap = 5000 if fields == ["id"] else 100
        try:
            max_results = min(int(body.get("maxResults", 50)), cap)
        except (TypeError, ValueError):
            return self.error(400, ["maxResults must be a number"], headers=headers)
        offset = 0
        token = body.get("nextPageToken")
        if token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
                assert decoded["jql"] == jql
                offset = int(decoded["offset"])
            except Exception:
                return self.error(400, ["The provided next page token is invalid or expired."], headers=headers)
        page = matched[offset:offset + max_results]
        every = "*all" in fields or "*navigable" in fields
        issues = []
        for issue in page:
            out = self._abs(request, issue)
            selected = {k: v for k, v in out.pop("fields", {}).items() if every or k in fields}
            if selected:
                out["fields"] = selected
            issues.append(out)
        result: dict[str, Any] = {"issues": issues}
        if offset + max_results < len(matched):
            result["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"jql": jql, "offset": offset + max_results}).encode()).decode()
        result["isLast"] = "nextPageToken" not in result
        return JSONResponse(result, headers=headers)

    def _validate_fields(self, fields: Any, creating: bool) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not isinstance(fields, dict):
            return {"fields": "fields is required"}
        if creating:
            project = fields.get("project") or {}
            if project.get("key") != self.data.project and project.get("id") != "10000":
                errors["project"] = "valid project is required"
            itype = fields.get("issuetype") or {}
            if itype.get("name") not in ISSUE_TYPES and itype.get("id") not in ISSUE_TYPES.values():
                errors["issuetype"] = "Specify an issue type"
            if not fields.get("summary"):
                errors["summary"] = "You must specify a summary of the issue."
        for name in fields:
            if name not in ("project", "issuetype", "summary", "description", "labels", "priority", "assignee"):
                errors[name] = (f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown.")
        if "summary" in fields and (not isinstance(fields["summary"], str) or len(fields["summary"]) > 255):
            errors["summary"] = "Summary must be less than 255 characters."
        if "description" in fields and fields["description"] is not None and not is_adf(fields["description"]):
            errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
        if "labels" in fields:
            labels = fields["labels"]
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                errors["labels"] = "Operation value must be an array of strings"
            elif any(" " in x for x in labels):
                errors["labels"] = f"The label '{next(x for x in labels if ' ' in x)}' contains spaces which is invalid."
        if "priority" in fields:
            p = fields["priority"] or {}
            if not any((p.get("name") == name or p.get("id") == pid) for pid, name in PRIORITIES):
                errors["priority"] = "Specify the Priority (id or name) in the string format"
        return errors

    async def create_issue(self, request: Request) -> Response:
        denied, headers = await self.guard(request)
        if denied:
            return denied
        try:
            body = await request.json()
        except Exception:
            return self.error(400, ["Invalid request payload."], headers=headers)
        fields = body.get("fields") if isinstance(body, dict) else None
        errors = self._validate_fields(fields, creating=True)
        if errors:
            return self.error(400, [], errors, headers=headers)
        issue = self.data.add_issue(fields)
        self.created += 1
        base = str(request.base_url).rstrip("/")
        return self._after_write(JSONResponse({"id": issue["id"], "key": issue["key"], "self": base + issue["self"]},
                                              status_code=201, headers=headers), headers)

    async def _issue_write(self, request: Request) -> tuple[Response | None, dict[str, str], dict[str, Any], Any]:
        """A write to the issue the path names: (refusal, headers, issue, JSON body); the refusal is the
        guard's, 404 for an issue not found, 400 for a body that is not JSON."""
        denied, headers = await self.guard(request)
        if denied:
            return denied, headers, {}, None
        issue = self.data.find(request.path_params["key"])
        if issue is None:
            return (self.error(404, ["Issue does not exist or you do not have permission to see it."], headers=headers),
                    headers, {}, None)
        try:
            body = await request.json()
        except Exception:
            return self.error(400, ["Invalid request payload."], headers=headers), headers, {}, None
        return None, headers, issue, body

    async def edit_issue(self, request: Request) -> Response:
        denied, headers, issue, body = await self._issue_write(request)
        if denied:
            return denied
        fields = body.get("fields", {}) if isinstance(body, dict) else None
        errors = self._validate_fields(fields, creating=False)
        if errors:
            return self.error(400, [], errors, headers=headers)
        for name, value in fields.items():
            if name == "priority":
                pid, pname = next(p for p in PRIORITIES if value.get("name") in p or value.get("id") in p)
                issue["fields"]["priority"] = {"self": f"/rest/api/3/priority/{pid}", "iconUrl": "", "name": pname,
                                               "id": pid}
            else:
                issue["fields"][name] = value
        issue["fields"]["updated"] = jira_ts(self.data.now())
        return self._after_write(Response(status_code=204, headers=headers), headers)

    async def add_comment(self, request: Request) -> Response:
        denied, headers, issue, body = await self._issue_write(request)
        if denied:
            return denied
        if not isinstance(body, dict) or not is_adf(body.get("body")):
            return self.error(400, [], {"comment": "Comment body must be an Atlassian Document"}, headers=headers)
        comments = self.data.comments.setdefault(issue["key"], [])
        cid = str(10000 + sum(len(c) for c in self.data.comments.values()))
        now = jira_ts(self.data.now())
        base = str(request.base_url).rstrip("/")
        comment = {"self": f"{base}/rest/api/3/issue/{issue['id']}/comment/{cid}", "id": cid,
                   "author": self.data.user("ARIA Integration"), "body": body["body"],
                   "updateAuthor": self.data.user("ARIA Integration"), "created": now, "updated": now,
                   "jsdPublic": True}
        comments.append(comment)
        issue["fields"]["updated"] = now
        self.created += 1
        return self._after_write(JSONResponse(comment, status_code=201, headers=headers), headers)

    # -- control ------------------------------------------------------------------------------

    def streams(self) -> dict[str, Stream]:
        return {"issues": Stream(self.data.issues, self.data.malformed, self.data.add_issue, self.data.touch,
                                 id_field="key")}

    def counters(self) -> dict[str, Any]:
        return {"comments": sum(len(c) for c in self.data.comments.values())}

    def routes(self) -> list[Route]:
        return [
            Route("/rest/api/3/myself", self.myself, methods=["GET"]),
            Route(SEARCH_PATH, self.search, methods=["POST"]),
            Route("/rest/api/3/issue", self.create_issue, methods=["POST"]),
            Route("/rest/api/3/issue/{key}", self.edit_issue, methods=["PUT"]),
            Route("/rest/api/3/issue/{key}/comment", self.add_comment, methods=["POST"]),
        ]


def sign_webhook(secrets: dict[str, Any], body: bytes, timestamp: int | None = None,
                 delivery_id: str | None = None) -> dict[str, str]:
    """Headers Jira sends with an admin webhook delivery registered with ``webhook_secret`` (it
    signs no timestamp, so ``timestamp`` is unused). Written apart from the SDK's verifier."""
    mac = hmac.new(str(secrets["webhook_secret"]).encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json; charset=UTF-8", "X-Hub-Signature": f"sha256={mac}"}
    if delivery_id:
        headers["X-Atlassian-Webhook-Identifier"] = delivery_id
    return headers


def create_app(**options: Any) -> Starlette:
    """Options: seed, records / issues, malformed, per_timestamp, email, api_token, project, rate_limit,
    rate_window_seconds, replay ({"issues": [recorded issues]})."""
    return JiraSimulator(**options).app()
