"""Simulator of the Elasticsearch REST API subset the connector uses, over Elastic Security alerts.

Faithful to the public Elasticsearch / Elastic Security documentation:

* Search API - https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-search :
  ``GET|POST /<target>/_search`` (target: comma-separated index/alias names with ``*``
  wildcards; a wildcard that matches nothing is an empty result, a missing concrete name is
  ``404 index_not_found_exception``), query parameters ``q`` (Lucene query string), ``size``,
  ``from``; body ``query``, ``sort``, ``search_after``, ``size``, ``from``, ``track_total_hits``.
  Response ``{"took", "timed_out", "_shards", "hits": {"total": {"value", "relation"},
  "max_score", "hits": [{"_index", "_id", "_score", "_source", "sort"}]}}``.
* Paginate search results - https://elastic.co/docs/reference/elasticsearch/rest-apis/paginate-search-results :
  ``from + size`` is capped by ``index.max_result_window`` (10 000); ``search_after`` takes the
  ``sort`` values of the last hit; a date sort value is epoch milliseconds.
* Query string syntax - https://www.elastic.co/docs/reference/query-languages/query-dsl/query-dsl-query-string-query#query-string-syntax :
  ``field:value``, ranges ``field:[a TO b]`` / ``{a TO b}`` / ``field:>=a``, ``AND``.
* Authentication - https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-security-authenticate
  and API keys https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-security-create-api-key :
  ``Authorization: ApiKey <base64(id:api_key)>`` (the ``encoded`` value) or ``Basic``; failures are
  ``401 security_exception`` with ``WWW-Authenticate``; ``GET /_security/_authenticate``.
* Alert documents - https://www.elastic.co/docs/reference/security/fields-and-object-schemas/alert-schema :
  indices ``.alerts-security.alerts-<space id>`` (aliases of ``.internal.alerts-security.alerts-<space>-000001``),
  ``kibana.alert.*`` fields stored as flat dotted keys in ``_source`` (``kibana.alert.uuid``,
  ``kibana.alert.rule.name``, ``kibana.alert.severity`` low/medium/high/critical,
  ``kibana.alert.risk_score``, ``kibana.alert.workflow_status`` open/acknowledged/closed,
  ``kibana.alert.reason``, ``kibana.alert.rule.threat``, ``kibana.alert.original_time``, ...)
  next to the ECS fields copied from the source event (``host``, ``user``, ``process``, ``event``).
  The documents served are the corpus's recorded alerts (``corpus/alerts``), copied with new ids and
  times.
* Bulk API - https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk :
  ``POST /_bulk`` or ``/<target>/_bulk``, NDJSON (``application/x-ndjson``) of action lines
  (``index``, ``create``, ``delete``; ``_index``, ``_id``) each followed by its document (not for
  ``delete``); the body must end with a newline. Response ``{"took", "errors", "items": [{"create":
  {"_index", "_id", "_version", "result": "created", "_shards", "_seq_no", "_primary_term",
  "status": 201}}]}``; a ``create`` of an existing ``_id`` fails that item only: ``"status": 409,
  "error": {"type": "version_conflict_engine_exception", ...}`` (HTTP 200, ``errors: true``).
* Rejections: ``429 es_rejected_execution_exception``; Elasticsearch itself sends no
  ``Retry-After`` but proxies in front of it (Elastic Cloud) do - the simulator sends it.

Records that change (status updates through Kibana, rule re-detection) are re-written with a
new ``@timestamp``: Elastic Security's alert schema defines it as the time the alert was created or
most recently updated (https://www.elastic.co/guide/en/security/current/alert-schema.html).
Demo credentials: API key id ``demo-key-id``, key ``demo-api-key`` (encoded
``ZGVtby1rZXktaWQ6ZGVtby1hcGkta2V5``), or basic ``elastic`` / ``demo-password``.
Control endpoints (``/_sim/...``): see ``aria_connector_testkit.simulators.base``.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_connector_testkit.corpus import records_for
from aria_connector_testkit.simulators.base import SeededData, Simulator, Stream, record_counts, seed_records

DEMO_KEY_ID, DEMO_API_KEY = "demo-key-id", "demo-api-key"
DEMO_USER, DEMO_PASSWORD = "elastic", "demo-password"
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
STREAM = "alerts"
MAX_RESULT_WINDOW = 10000
CONCRETE = re.compile(r"\.internal\.alerts-security\.alerts-(.+)-\d{6}")

def _iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_date(value: Any) -> datetime:
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value / 1000, timezone.utc)
    v = str(value).strip().strip('"')
    if v.isdigit():
        return datetime.fromtimestamp(int(v) / 1000, timezone.utc)
    dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _millis(value: str) -> int:
    return int(_parse_date(value).timestamp() * 1000)


def _field(src: dict[str, Any], name: str) -> Any:
    """Field lookup the way Elasticsearch resolves it: flat dotted keys or nested objects."""
    if name in src:
        return src[name]
    head, _, rest = name.partition(".")
    while rest:
        if head in src and isinstance(src[head], dict):
            return _field(src[head], rest)
        nxt, _, rest = rest.partition(".")
        head = f"{head}.{nxt}"
    return src.get(head)


class EsError(Exception):
    def __init__(self, status: int, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.type, self.reason = status, type_, reason


class AlertsData(SeededData):
    """Alert documents by ``_id`` (every hit has one). Seeded documents are the corpus's recorded
    alerts in turn, copied with new ids and times; ``replay`` holds exactly the given hits (their
    ``_index``, ``_id`` and ``_source``; score and sort values are the search's) instead."""

    def __init__(self, seed: int, alerts: int, malformed: int = 0, per_timestamp: int = 2,
                 spaces: tuple[str, ...] = ("default",), replay: list[dict[str, Any]] | None = None) -> None:
        super().__init__(seed, per_timestamp)
        self.spaces = spaces
        self.docs: dict[str, dict[str, Any]] = {}  # _id -> {"_index", "_id", "_source"}
        if replay is not None:
            for hit in replay:
                self.docs[hit["_id"]] = {"_index": hit["_index"], "_id": hit["_id"],
                                         "_source": copy.deepcopy(hit["_source"])}
        else:
            self.templates = records_for("elasticsearch", STREAM)
            seed_records(self.add, alerts, malformed)

    @staticmethod
    def concrete(space: str) -> str:
        return f".internal.alerts-security.alerts-{space}-000001"

    def aliases(self) -> dict[str, str]:
        """Alias -> concrete index of every space, and of the spaces replayed documents live in."""
        out = {f".alerts-security.alerts-{s}": self.concrete(s) for s in self.spaces}
        for doc in self.docs.values():
            if m := CONCRETE.fullmatch(doc["_index"]):
                out.setdefault(f".alerts-security.alerts-{m.group(1)}", doc["_index"])
        return out

    def ts(self) -> str:
        bucket = self.step()
        return _iso_ms(T0 + timedelta(minutes=bucket, milliseconds=bucket * 37 % 1000))

    def add(self, malformed: bool = False) -> dict[str, Any]:
        """A recorded alert (``records_for``) copied with a new alert uuid, times, ancestor and space."""
        rng = self.rng
        ts = self.ts()
        n = self.seq["records"]
        space = self.spaces[n % len(self.spaces)]
        template = self.templates[n % len(self.templates)]
        src = copy.deepcopy(template["_source"])
        alert_uuid = hashlib.sha256(f"{self.seed}-alert-{n}".encode()).hexdigest()
        src["@timestamp"] = ts
        src["kibana.alert.uuid"] = alert_uuid
        src["kibana.alert.original_time"] = _iso_ms(_parse_date(ts) - timedelta(seconds=rng.randrange(5, 300)))
        src["kibana.space_ids"] = [space]
        for ancestor in src.get("kibana.alert.ancestors") or []:
            ancestor["id"] = hashlib.md5(f"{self.seed}-evt-{n}".encode()).hexdigest()[:20]
        if malformed:
            src["kibana.alert.severity"] = "severe?"  # not an Elastic severity
            self.malformed["alerts"] += 1
        doc = {"_index": self.concrete(space), "_id": alert_uuid, "_source": src}
        self.docs[alert_uuid] = doc
        return doc

    def touch(self, count: int) -> list[str]:
        """A status change in Kibana re-writes the alert with a new @timestamp."""
        oldest = sorted(self.docs.values(), key=lambda d: (_millis(d["_source"]["@timestamp"]), d["_id"]))
        out = []
        for d in oldest[:count]:
            src = d["_source"]
            src["@timestamp"] = self.ts()
            src["kibana.alert.workflow_status"] = "acknowledged" if src["kibana.alert.workflow_status"] != "acknowledged" else "closed"
            out.append(d["_id"])
        return out


# --- query evaluation -------------------------------------------------------------------------


def _cmp_values(have: Any, want: Any, field: str) -> tuple[Any, Any]:
    if field == "@timestamp" or field.endswith("_time") or field.endswith("_at") or field.endswith(".start"):
        return _parse_date(have), _parse_date(want)
    if isinstance(have, (int, float)) and not isinstance(have, bool):
        return float(have), float(want)
    return str(have), str(want)


def _range(src: dict[str, Any], field: str, spec: dict[str, Any]) -> bool:
    have = _field(src, field)
    if have is None:
        return False
    for op, want in spec.items():
        if op in ("format", "time_zone", "boost") or want is None:
            continue
        try:
            h, w = _cmp_values(have, want, field)
        except (TypeError, ValueError):
            raise EsError(400, "parse_exception", f"failed to parse [{want}] for field [{field}]") from None
        if not {"gt": h > w, "gte": h >= w, "lt": h < w, "lte": h <= w}.get(op, True):
            return False
    return True


def _term(src: dict[str, Any], field: str, value: Any) -> bool:
    have = _field(src, field)
    values = have if isinstance(have, list) else [have]
    return any(v == value or str(v) == str(value) for v in values)


def dsl_match(src: dict[str, Any], query: dict[str, Any] | None) -> bool:
    if not query:
        return True
    if not isinstance(query, dict) or len(query) != 1:
        raise EsError(400, "parsing_exception", "query malformed, must start with start_object")
    (kind, body), = query.items()
    if kind == "match_all":
        return True
    if kind == "range":
        (field, spec), = body.items()
        return _range(src, field, spec)
    if kind in ("term", "match"):
        (field, value), = body.items()
        value = value.get("value", value.get("query")) if isinstance(value, dict) else value
        return _term(src, field, value)
    if kind == "terms":
        (field, values), = body.items()
        return any(_term(src, field, v) for v in values)
    if kind == "exists":
        return _field(src, body["field"]) is not None
    if kind == "bool":
        as_list = lambda v: v if isinstance(v, list) else ([v] if v else [])  # noqa: E731
        if not all(dsl_match(src, q) for q in as_list(body.get("must")) + as_list(body.get("filter"))):
            return False
        if any(dsl_match(src, q) for q in as_list(body.get("must_not"))):
            return False
        should = as_list(body.get("should"))
        return not should or any(dsl_match(src, q) for q in should)
    raise EsError(400, "parsing_exception", f"unknown query [{kind}]")


_QS_RANGE = re.compile(r'^([\w@.]+):([\[{])\s*("[^"]*"|\S+)\s+TO\s+("[^"]*"|\S+)\s*([\]}])$')
_QS_OP = re.compile(r'^([\w@.]+):(>=|<=|>|<)("[^"]*"|\S+)$')
_QS_TERM = re.compile(r'^([\w@.]+):("[^"]*"|\S+)$')


def query_string(q: str) -> dict[str, Any]:
    """Lucene query string subset -> query DSL: clauses joined by AND."""
    clauses = []
    for part in re.split(r"\s+AND\s+", q.strip()):
        part = part.strip().strip("()").strip()
        unq = lambda s: s[1:-1] if s.startswith('"') else s  # noqa: E731
        if m := _QS_RANGE.match(part):
            field, lo_b, lo, hi, hi_b = m.groups()
            spec: dict[str, Any] = {}
            if lo != "*":
                spec["gte" if lo_b == "[" else "gt"] = unq(lo)
            if hi != "*":
                spec["lte" if hi_b == "]" else "lt"] = unq(hi)
            clauses.append({"range": {field: spec}})
        elif m := _QS_OP.match(part):
            field, op, value = m.groups()
            clauses.append({"range": {field: {{">=": "gte", "<=": "lte", ">": "gt", "<": "lt"}[op]: unq(value)}}})
        elif m := _QS_TERM.match(part):
            field, value = m.groups()
            clauses.append({"exists": {"field": field}} if value == "*" else {"term": {field: unq(value)}})
        elif part in ("*", "*:*"):
            clauses.append({"match_all": {}})
        else:
            raise EsError(400, "query_shard_exception", f"Failed to parse query [{q}]")
    return {"bool": {"filter": clauses}}


def _sort_specs(sort: Any) -> list[tuple[str, str]]:
    out = []
    for item in sort if isinstance(sort, list) else [sort]:
        if isinstance(item, str):
            field, _, order = item.partition(":")
            out.append((field, order or ("desc" if field == "_score" else "asc")))
        elif isinstance(item, dict) and len(item) == 1:
            (field, spec), = item.items()
            out.append((field, spec.get("order", "asc") if isinstance(spec, dict) else str(spec)))
        else:
            raise EsError(400, "parsing_exception", "malformed sort")
    for field, order in out:
        if order not in ("asc", "desc"):
            raise EsError(400, "parsing_exception", f"unknown sort order [{order}]")
        if field == "_id":
            raise EsError(400, "illegal_argument_exception",
                          "Fielddata access on the _id field is disallowed, you can re-enable it by updating the "
                          "dynamic cluster setting: indices.id_field_data.enabled")
    return out


def _sort_value(src: dict[str, Any], field: str) -> Any:
    v = _field(src, field)
    if field == "@timestamp" and v is not None:
        return _millis(v)
    return v


# --- app ------------------------------------------------------------------------------------


class ElasticsearchSimulator(Simulator):
    def __init__(self, *, seed: int = 42, records: int | None = None, alerts: int | None = None, malformed: int = 0,
                 per_timestamp: int = 2, api_key_id: str = DEMO_KEY_ID, api_key: str = DEMO_API_KEY,
                 username: str = DEMO_USER, password: str = DEMO_PASSWORD, spaces: str = "default",
                 rate_limit: int = 6000, rate_window_seconds: float = 60.0,
                 replay: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.options = dict(seed=seed, **record_counts(records, alerts=alerts), malformed=malformed, per_timestamp=per_timestamp, spaces=tuple(spaces.split(",")))
        if replay is not None:
            self.options["replay"] = list(replay.get(STREAM, []))
        self.api_key_id, self.api_key, self.username, self.password = api_key_id, api_key, username, password
        super().__init__(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)

    def reset(self) -> None:
        self.data = AlertsData(**self.options)
        self.indexed: dict[tuple[str, str], dict[str, Any]] = {}  # documents written through _bulk

    @staticmethod
    def error(status: int, type_: str, reason: str, headers: dict[str, str] | None = None,
              extra: dict[str, Any] | None = None) -> JSONResponse:
        cause = {"type": type_, "reason": reason, **(extra or {})}
        return JSONResponse({"error": {"root_cause": [cause], **cause}, "status": status}, status_code=status,
                            headers=headers)

    def _authenticated(self, request: Request) -> dict[str, Any] | None:
        value = request.headers.get("authorization", "")
        scheme, _, cred = value.partition(" ")
        try:
            decoded = base64.b64decode(cred.strip(), validate=True).decode()
        except Exception:
            return None
        ident, _, secret = decoded.partition(":")
        if scheme == "ApiKey" and ident == self.api_key_id and secret == self.api_key:
            return {"username": "aria-connector", "authentication_type": "api_key",
                    "authentication_realm": {"name": "_es_api_key", "type": "_es_api_key"},
                    "api_key": {"id": self.api_key_id, "name": "aria-connector"}}
        if scheme == "Basic" and ident == self.username and secret == self.password:
            return {"username": self.username, "authentication_type": "realm",
                    "authentication_realm": {"name": "reserved", "type": "reserved"}}
        return None

    def guard(self, request: Request) -> tuple[JSONResponse | None, dict[str, Any] | None]:
        gate = self.control.admit(request)
        rejected = "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0]"
        if gate.status == 429:
            return self.error(429, "es_rejected_execution_exception", rejected, {"Retry-After": str(gate.retry_after)}), None
        if gate.status is not None:
            if gate.status == 503:
                return self.error(503, "cluster_block_exception",
                                  "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered / initialized];"), None
            return self.error(gate.status, "search_phase_execution_exception", "all shards failed"), None
        who = self._authenticated(request)
        if who is None:
            return self.error(401, "security_exception", "unable to authenticate with provided credentials and "
                              "anonymous access is not allowed for this request",
                              {"WWW-Authenticate": 'Basic realm="security", charset="UTF-8", ApiKey'},
                              {"additional_unsuccessful_credentials": "API key: unable to authenticate"}), None
        return None, who

    def resolve(self, target: str) -> set[str]:
        aliases = self.data.aliases()
        names = set(aliases) | set(aliases.values())
        out: set[str] = set()
        for expr in target.split(","):
            if "*" in expr or "?" in expr:
                out |= {aliases.get(n, n) for n in names if fnmatch.fnmatchcase(n, expr) and not
                        (n.startswith(".") and not expr.startswith("."))}
            elif expr in names:
                out.add(aliases.get(expr, expr))
            else:
                raise EsError(404, "index_not_found_exception", f"no such index [{expr}]")
        return out

    async def authenticate(self, request: Request) -> Response:
        denied, who = self.guard(request)
        if denied:
            return denied
        return JSONResponse({**who, "roles": [], "full_name": None, "email": None, "metadata": {}, "enabled": True,
                             "lookup_realm": who["authentication_realm"]})

    async def count(self, request: Request) -> Response:
        denied, _ = self.guard(request)
        if denied:
            return denied
        try:
            indices = self.resolve(request.path_params["target"])
        except EsError as exc:
            return self.error(exc.status, exc.type, exc.reason)
        n = sum(1 for d in self.data.docs.values() if d["_index"] in indices)
        return JSONResponse({"count": n, "_shards": {"total": len(indices), "successful": len(indices),
                                                     "skipped": 0, "failed": 0}})

    async def search(self, request: Request) -> Response:
        started = time.perf_counter()
        denied, _ = self.guard(request)
        if denied:
            return denied
        try:
            raw = await request.body()
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise EsError(400, "parsing_exception", "request body must be an object")
        except ValueError:
            return self.error(400, "x_content_parse_exception", "Failed to parse request body")
        q = request.query_params
        try:
            indices = self.resolve(request.path_params["target"])
            size = int(q.get("size", body.get("size", 10)))
            from_ = int(q.get("from", body.get("from", 0)))
            if size < 0 or from_ < 0:
                raise EsError(400, "illegal_argument_exception", "[from] and [size] must be non-negative")
            if from_ + size > MAX_RESULT_WINDOW:
                raise EsError(400, "illegal_argument_exception",
                              f"Result window is too large, from + size must be less than or equal to: "
                              f"[{MAX_RESULT_WINDOW}] but was [{from_ + size}]. See the scroll api for a more "
                              f"efficient way to request large data sets.")
            queries = [body["query"]] if body.get("query") else []
            if q.get("q"):
                queries.append(query_string(q["q"]))
            docs = [d for d in self.data.docs.values()
                    if d["_index"] in indices and all(dsl_match(d["_source"], qq) for qq in queries)]
            sort = _sort_specs(body["sort"]) if body.get("sort") else []
            search_after = body.get("search_after")
            if search_after is not None:
                if not sort:
                    raise EsError(400, "illegal_argument_exception", "Sort must contain at least one field.")
                if not isinstance(search_after, list) or len(search_after) != len(sort):
                    raise EsError(400, "illegal_argument_exception",
                                  "search_after has %d value(s) but sort has %d." % (
                                      len(search_after) if isinstance(search_after, list) else 0, len(sort)))
                if from_ not in (0, -1):
                    raise EsError(400, "illegal_argument_exception",
                                  "[from] parameter must be set to 0 when [search_after] is used.")
        except EsError as exc:
            return self.error(exc.status, exc.type, exc.reason)
        except ValueError:
            return self.error(400, "illegal_argument_exception", "invalid size or from")

        def key(d: dict[str, Any]) -> tuple:
            out = []
            for field, order in sort:
                v = _sort_value(d["_source"], field)
                missing = v is None
                out.append((missing, _Desc(v) if order == "desc" and not missing else v if not missing else 0))
            return tuple(out)

        docs.sort(key=lambda d: d["_index"] + d["_id"])  # shard/doc order
        if sort:
            docs.sort(key=key)
        if search_after is not None:
            after = tuple((v is None, _Desc(v) if order == "desc" and v is not None else v if v is not None else 0)
                          for v, (_f, order) in zip(search_after, sort))
            docs = [d for d in docs if key(d) > after]
        page = docs[from_:from_ + size]
        hits = []
        for d in page:
            hit = {"_index": d["_index"], "_id": d["_id"], "_score": None if sort else 1.0,
                   "_source": json.loads(json.dumps(d["_source"]))}
            if sort:
                hit["sort"] = [_sort_value(d["_source"], f) for f, _ in sort]
            hits.append(hit)
        total: dict[str, Any] | None = {"value": len(docs), "relation": "eq"}
        if body.get("track_total_hits") is False:
            total = None
        hits_obj: dict[str, Any] = {"max_score": None if sort else (1.0 if hits else None), "hits": hits}
        if total is not None:
            hits_obj = {"total": total, **hits_obj}
        return JSONResponse({"took": max(1, int((time.perf_counter() - started) * 1000)), "timed_out": False,
                             "_shards": {"total": len(indices), "successful": len(indices), "skipped": 0, "failed": 0},
                             "hits": hits_obj})

    async def bulk(self, request: Request) -> Response:
        denied, _ = self.guard(request)
        if denied:
            return denied
        started = time.perf_counter()
        raw = (await request.body()).decode("utf-8", "replace")
        if not raw.endswith("\n"):
            return self.error(400, "illegal_argument_exception", "The bulk request must be terminated by a newline [\\n]")
        lines = [line for line in raw.split("\n") if line.strip()]
        items, i = [], 0
        while i < len(lines):
            try:
                action = json.loads(lines[i])
                (op, meta), = action.items()
            except ValueError:
                return self.error(400, "x_content_parse_exception", f"[{i + 1}:1] Malformed action/metadata line")
            if op not in ("index", "create", "delete"):
                return self.error(400, "illegal_argument_exception", f"Malformed action/metadata line [{i + 1}], "
                                  f"expected one of [create, delete, index, update] but found [{op}]")
            index = meta.get("_index") or request.path_params.get("target")
            if not index:
                return self.error(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;")
            doc_id = str(meta.get("_id") or uuid.uuid4().hex[:20])
            source = None
            if op != "delete":
                i += 1
                try:
                    source = json.loads(lines[i]) if i < len(lines) else None
                except ValueError:
                    source = None
                if not isinstance(source, dict):
                    return self.error(400, "x_content_parse_exception", f"[{i + 1}:1] document is not a JSON object")
            i += 1
            items.append({op: self._bulk_item(op, index, doc_id, source)})
        fault = self.control.take_write_fault()
        if fault is not None:
            return self.error(fault.status, "cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/2/no master];")
        return JSONResponse({"took": max(1, int((time.perf_counter() - started) * 1000)),
                             "errors": any("error" in next(iter(it.values())) for it in items), "items": items})

    def _bulk_item(self, op: str, index: str, doc_id: str, source: dict[str, Any] | None) -> dict[str, Any]:
        key = (index, doc_id)
        shards = {"total": 2, "successful": 1, "failed": 0}
        if op == "create" and key in self.indexed:
            return {"_index": index, "_id": doc_id, "status": 409, "error": {
                "type": "version_conflict_engine_exception",
                "reason": f"[{doc_id}]: version conflict, document already exists (current version [1])",
                "index_uuid": hashlib.md5(index.encode()).hexdigest()[:22], "shard": "0", "index": index}}
        if op == "delete":
            found = self.indexed.pop(key, None) is not None
            return {"_index": index, "_id": doc_id, "_version": 2, "result": "deleted" if found else "not_found",
                    "_shards": shards, "status": 200 if found else 404}
        existed = key in self.indexed
        self.indexed[key] = source or {}
        return {"_index": index, "_id": doc_id, "_version": 2 if existed else 1,
                "result": "updated" if existed else "created", "_shards": shards, "_seq_no": len(self.indexed) - 1,
                "_primary_term": 1, "status": 200 if existed else 201}

    def streams(self) -> dict[str, Stream]:
        return {STREAM: Stream(self.data.docs, self.data.malformed["alerts"], self.data.add, self.data.touch,
                               id_field="_id")}

    def counters(self) -> dict[str, Any]:
        return {"created": len(self.indexed)}

    def routes(self) -> list[Route]:
        return [
            Route("/_security/_authenticate", self.authenticate, methods=["GET"]),
            Route("/_bulk", self.bulk, methods=["POST", "PUT"]),
            Route("/{target}/_bulk", self.bulk, methods=["POST", "PUT"]),
            Route("/{target}/_search", self.search, methods=["GET", "POST"]),
            Route("/{target}/_count", self.count, methods=["GET", "POST"]),
        ]


class _Desc:
    """Inverts ordering for descending sort keys."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: "_Desc") -> bool:
        return self.v > other.v

    def __gt__(self, other: "_Desc") -> bool:
        return self.v < other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v


def create_app(**options: Any) -> Starlette:
    """Options: seed, records/alerts, malformed, per_timestamp, api_key_id, api_key, username, password,
    spaces (comma-separated Kibana space ids), rate_limit, rate_window_seconds, replay ({"alerts": [real
    hits]}: those documents instead of seeded ones)."""
    return ElasticsearchSimulator(**options).app()


def encoded_api_key(key_id: str = DEMO_KEY_ID, key: str = DEMO_API_KEY) -> str:
    """The ``encoded`` form Elasticsearch returns from the create API key API."""
    return base64.b64encode(f"{key_id}:{key}".encode()).decode()
