"""A vendor simulator as data: ``simulator.yaml`` next to the connector's corpus.

A vendor whose API is plain REST reads (auth, list endpoints with paging, filters and sort)
needs no Python: its profile says what the vendor documents and records, and
``ProfileSimulator`` serves it with the control protocol of ``base.py``. Seeded records are the
corpus records (``corpus.records_for``) taken in turn and varied field by field as the profile
says; a varied field keeps the JSON type the vendor recorded, and absent or null fields stay so,
so a profile cannot invent shapes. ``replay={stream: records}`` serves exactly those records.

Writes (push actions), export jobs, webhooks and non-JSON bodies still need Python: a vendor's
``simulator.py`` may subclass ``ProfileSimulator`` and add only those routes (Freshdesk's writes).

Profile keys (``Profile`` below is the schema; unknown keys are errors):

* ``defaults`` - option defaults: ``seed``, ``records``, ``per_timestamp``, ``rate_limit``,
  ``rate_window_seconds``; ``ids`` - the id counter seeded records share (``start``, ``step``,
  ``jitter``);
* ``auth`` - ``api_key`` (header, prefix: ``ApiToken ``, ``Bearer `` for a static bearer token),
  ``basic`` or ``oauth2_client_credentials`` (token endpoint, how the client sends its
  credentials, the token response template, expiry); each secret names the simulator option
  that sets it and its demo default;
* ``errors`` - the vendor's error body as a template (``{status}``, ``{code}``, ``{title}``,
  ``{message}`` ... filled per status), the Retry-After and rate-limit headers;
* ``endpoints`` - fixed authenticated answers (connection tests, ``/me``, system info);
* ``streams.<name>`` - ``route``, ``envelope`` (a template of the recorded envelope:
  ``{records}``, ``{total}``, ``{next}``, ``{offset}``, ``{limit}``, ``{page}``; ``{x?}`` leaves
  the key out when x is null), ``pagination``, ``filters``, ``sort``, ``clock`` and per field
  how seeded records vary (``fields``), which other stream they point at (``refs``), what makes
  one malformed (``malformed``) and what an update changes besides the clock (``update``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import ipaddress
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Literal
from urllib.parse import parse_qs, urlencode

import yaml
from pydantic import BaseModel, ConfigDict, Field as F, ValidationError, model_validator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..corpus import records_for
from .base import FastJSONResponse, SeededData, Simulator, Stream, basic_credentials, seed_records

# --- the profile ---------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Secret(_Model):
    option: str = F(description="The simulator option that sets it (conformance.yaml, CLI).")
    default: str = F(description="The demo value.")


class ApiKeyAuth(_Model):
    type: Literal["api_key"]
    header: str
    prefix: str = ""
    key: Secret


class BasicAuth(_Model):
    type: Literal["basic"]
    username: Secret
    password: Secret | None = F(None, description="None: any password (Freshdesk: the API key is the user name).")


class TokenEndpoint(_Model):
    path: str
    status: int = 200
    client_auth: Literal["form", "basic"] = F("form", description="Client id and secret in the form body or Basic.")
    response: Any = F(description="Template of the token response: {token}, {expires_in}.")
    ttl_seconds: int = 1800


class OAuth2Auth(_Model):
    type: Literal["oauth2_client_credentials"]
    client_id: Secret
    client_secret: Secret
    token: TokenEndpoint


class RateHeaders(_Model):
    limit: str | None = None
    remaining: str | None = None
    reset: str | None = F(None, description="Seconds until the window resets.")


class Errors(_Model):
    body: Any = F(description="Template of the vendor's error body: {status}, and the per-status values.")
    bodies: dict[int, Any] = F(default_factory=dict, description="A status whose body has another shape "
                                                                  "(Freshdesk's 400 validation errors).")
    statuses: dict[int, dict[str, Any]] = F(description="Template values per status (401, 403, 404, 429, 500, ...).")
    default: dict[str, Any] = F(default_factory=dict, description="Template values of a status not listed.")
    invalid_request_status: int = F(400, description="The status of a request refused as invalid (QRadar: 422).")
    retry_after_header: str | None = "Retry-After"
    rate_limit_headers: RateHeaders | None = None


class RouteSpec(_Model):
    method: Literal["GET", "POST"] = "GET"
    path: str


class Endpoint(RouteSpec):
    body: Any


class Pagination(_Model):
    """Where a page starts (``by``) and where the next page is announced (``link``): ``offset``
    and ``page`` read request parameters, ``cursor`` an opaque token (a keyset position, valid
    only with the same filters), ``range_header`` ``Range: items=a-b`` (answered with
    ``Content-Range``). ``link``: ``header`` (``Link: <url>; rel="next"``) or ``body`` (the URL
    as ``{next}`` in the envelope); without it ``{next}`` is the cursor token."""

    by: Literal["offset", "page", "cursor", "range_header"]
    link: Literal["header", "body"] | None = None
    limit_param: str | None = "limit"
    default_limit: int = 100
    max_limit: int = 1000
    offset_param: str = "offset"
    page_param: str = "page"
    first_page: int = 1
    cursor_param: str = "cursor"
    last_next: Any = F(None, description="{next} on the last page, as the vendor records it (null, \"\").")

    @model_validator(mode="after")
    def _consistent(self) -> "Pagination":
        if self.by == "range_header" and self.link is not None:
            raise ValueError("range_header paging has no next link")
        if self.by != "range_header" and self.limit_param is None:
            raise ValueError(f"{self.by} paging needs a limit_param")
        return self


TimeFormat = str  # 'epoch_ms', 'epoch_s', or a strftime pattern ('%Y-%m-%dT%H:%M:%S.%fZ')


class Filter(_Model):
    param: str
    field: str = F(description="Record path compared.")
    op: Literal[">=", ">", "<=", "<", "="] = ">="
    format: TimeFormat = F("iso8601", description="How the parameter and the field write time: iso8601, "
                                                  "epoch_ms, epoch_s or a strptime pattern (UTC).")
    template: str | None = F(None, description="The parameter's syntax around the value when it is an "
                                                 "expression, e.g. 'last_updated_time >= {value}'.")


class Sort(_Model):
    param: str
    fields: dict[str, str] = F(description="Sort name the vendor accepts -> record path.")
    default: str | None = F(None, description="Sort name used without the parameter (else insertion order).")
    order_param: str | None = F(None, description="asc|desc parameter (SentinelOne's sortOrder); without "
                                                  "it a -name sorts descending (QRadar's sort=-field).")
    default_order: Literal["asc", "desc"] = "asc"


class Clock(_Model):
    start: datetime = datetime(2024, 5, 1, tzinfo=timezone.utc)
    step_seconds: float = 60
    format: TimeFormat = "%Y-%m-%dT%H:%M:%S.%fZ"


class Vary(_Model):
    """How one field of a seeded record varies from its template (exactly one kind)."""

    id: bool = F(False, description="The next id of the shared counter.")
    format: str | None = F(None, description="Python format of n, the record's number in its stream: 'ws-{n:04d}'.")
    clock: Literal["now", "before"] | None = F(None, description="now: the stream clock (re-stamped by an update); "
                                                                  "before: seconds_before it, set once.")
    seconds_before: tuple[int, int] = (1, 600)
    choice: list[Any] | None = None
    range: tuple[int, int] | None = F(None, description="An integer in [a, b).")
    ipv4: str | None = F(None, description="An address in this network.")
    mac: bool = False
    hash: Literal["md5", "sha1", "sha256"] | None = F(None, description="Hex digest of the record's id.")
    same_as: str | None = F(None, description="The value of another path of the record, once it is varied.")

    @model_validator(mode="after")
    def _one_kind(self) -> "Vary":
        kinds = [k for k in ("id", "format", "clock", "choice", "range", "ipv4", "mac", "hash", "same_as")
                 if getattr(self, k) not in (None, False)]
        if len(kinds) != 1:
            raise ValueError(f"give exactly one of id, format, clock, choice, range, ipv4, mac, hash, same_as "
                             f"(got {kinds or 'none'})")
        return self


class StreamProfile(_Model):
    route: RouteSpec
    envelope: Any = "{records}"
    pagination: Pagination
    filters: list[Filter] = []
    sort: Sort | None = None
    id_field: str = "id"
    clock: Clock = Clock()
    fields: dict[str, Vary] = F(default_factory=dict,
                                description="Record path ('nics[].mac': each element) -> variation.")
    refs: dict[str, dict[str, str]] = F(default_factory=dict, description="Other stream -> {path here: path there} "
                                                                            "copied from one of its records.")
    malformed: dict[str, Any] = F(description="Path -> value that makes a record one the connector must count as bad.")
    update: dict[str, list[Any]] = F(default_factory=dict, description="Path -> values an update cycles through "
                                                                       "(the 'now' clock fields are re-stamped too).")

    @model_validator(mode="after")
    def _has_a_clock(self) -> "StreamProfile":
        if not any(v.clock == "now" for v in self.fields.values()):
            raise ValueError("a stream needs a field with clock: now (what incremental reads and updates move)")
        return self


class Defaults(_Model):
    seed: int = 42
    records: int = 60
    per_timestamp: int = 2
    rate_limit: int = 6000
    rate_window_seconds: float = 60.0


class Ids(_Model):
    start: int = 1
    step: int = 1
    jitter: int = F(0, description="A random amount below this added to each id.")


class Profile(_Model):
    defaults: Defaults = Defaults()
    ids: Ids = Ids()
    auth: ApiKeyAuth | BasicAuth | OAuth2Auth = F(discriminator="type")
    errors: Errors
    endpoints: list[Endpoint] = []
    streams: dict[str, StreamProfile]

    @model_validator(mode="after")
    def _refs_name_streams(self) -> "Profile":
        for name, stream in self.streams.items():
            for other in stream.refs:
                if other not in self.streams or other == name:
                    raise ValueError(f"streams.{name}.refs: {other!r} is not another stream")
        return self

    def secrets(self) -> list[Secret]:
        auth = self.auth
        if isinstance(auth, ApiKeyAuth):
            return [auth.key]
        if isinstance(auth, BasicAuth):
            return [auth.username] + ([auth.password] if auth.password else [])
        return [auth.client_id, auth.client_secret]


def load_profile(path: Path) -> Profile:
    """The profile at ``path``; ValueError naming the file and each wrong key."""
    try:
        return Profile.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as exc:
        lines = [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise ValueError(f"{path}: invalid simulator profile\n  " + "\n  ".join(lines)) from None


# --- templates, paths, time ------------------------------------------------------------------------

_WHOLE = re.compile(r"^\{(\w+)(\??)\}$")
_PART = re.compile(r"\{(\w+)\}")
_OMIT = object()


def fill(template: Any, values: dict[str, Any]) -> Any:
    """A template with its ``{name}`` placeholders filled. A string that is one placeholder takes the
    value itself (a list, a number); ``{name?}`` drops its key when the value is null."""
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            value = values.get(whole.group(1))
            return _OMIT if value is None and whole.group(2) else value
        return _PART.sub(lambda m: str(values.get(m.group(1), "")), template)
    if isinstance(template, dict):
        out = {k: fill(v, values) for k, v in template.items()}
        return {k: v for k, v in out.items() if v is not _OMIT}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    return template


def _parts(path: str) -> list[str]:
    return path.split(".")


def read(record: Any, path: str) -> Any:
    for part in _parts(path):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def vary_path(record: Any, parts: list[str], fn: Callable[[Any], Any]) -> None:
    """Replace every present, non-null value at ``parts`` (``name[]``: each element of a list) with
    ``fn(old)`` cast to the recorded type; a list of scalars has each element replaced."""
    if not isinstance(record, dict):
        return
    head, rest = parts[0], parts[1:]
    each = head.endswith("[]")
    key = head[:-2] if each else head
    if record.get(key) is None:
        return
    if rest:
        for item in (record[key] if each else [record[key]]):
            vary_path(item, rest, fn)
        return
    old = record[key]
    record[key] = [_cast(fn(v), v) for v in old] if isinstance(old, list) else _cast(fn(old), old)


def _cast(value: Any, like: Any) -> Any:
    """``value`` with the JSON type of the recorded ``like`` (an id the vendor writes as a string)."""
    if isinstance(like, str) and not isinstance(value, str):
        return str(value)
    if isinstance(like, int) and not isinstance(like, bool) and isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def write_time(dt: datetime, fmt: TimeFormat) -> Any:
    if fmt == "epoch_ms":
        return int(dt.timestamp() * 1000)
    if fmt == "epoch_s":
        return int(dt.timestamp())
    return dt.strftime(fmt)


def parse_time(value: Any, fmt: TimeFormat) -> datetime:
    """ValueError when ``value`` is not a time written as ``fmt``."""
    if fmt in ("epoch_ms", "epoch_s"):
        seconds = float(value) / (1000 if fmt == "epoch_ms" else 1)
        return datetime.fromtimestamp(seconds, timezone.utc)
    text = str(value).strip()
    if fmt == "iso8601":
        # fromisoformat takes at most six fractional digits; Microsoft-style seven are cut
        text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
        dt = datetime.fromisoformat(text)
    else:
        dt = datetime.strptime(text, fmt)
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def order_value(value: Any) -> tuple:
    """A sort key across the values one field holds: null first, numbers (digit strings too, the
    ids vendors write as strings), ISO timestamps by instant whatever their fractional digits,
    then text."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    text = str(value)
    if text.isdigit():
        return (1, int(text))
    try:
        return (2, parse_time(text, "iso8601"))
    except ValueError:
        return (3, text)


class BadRequest(ValueError):
    """A request the vendor refuses as invalid: the parameter (``{field}`` in the error body) and why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b,
    "=": lambda a, b: a == b}


# --- the simulator --------------------------------------------------------------------------------


class ProfileData(SeededData):
    """The records of every stream, seeded from the corpus templates as the profile varies them, or
    the replayed ones verbatim."""

    def __init__(self, key: str, profile: Profile, seed: int, counts: dict[str, int], malformed: int,
                 per_timestamp: int, replay: dict[str, list[Any]] | None) -> None:
        super().__init__(seed, per_timestamp)
        self.profile = profile
        self.records: dict[str, list[dict[str, Any]]] = {name: [] for name in profile.streams}
        self.next_id = profile.ids.start
        # kept in replay mode too: a write (a Python extension's) adds a record from them
        self.templates = {name: records_for(key, name) for name in profile.streams}
        if replay is not None:
            for name, records in replay.items():
                self.records[name] = copy.deepcopy(records)
            return
        # a stream that others point at (refs) is seeded first
        for name in sorted(profile.streams, key=lambda n: bool(profile.streams[n].refs)):
            seed_records(lambda malformed=False, s=name: self.add(s, malformed), counts[name], malformed)

    def now(self, stream: str) -> datetime:
        clock = self.profile.streams[stream].clock
        return clock.start + timedelta(seconds=clock.step_seconds * self.step(stream))

    def value(self, stream: str, vary: Vary, record: dict[str, Any], now: datetime) -> Callable[[Any], Any]:
        rng, clock = self.rng, self.profile.streams[stream].clock
        if vary.id:
            self.next_id += self.profile.ids.step
            new = self.next_id + (rng.randrange(self.profile.ids.jitter) if self.profile.ids.jitter else 0)
            return lambda _: new
        if vary.format is not None:
            text = vary.format.format(n=len(self.records[stream]) + 1)
            return lambda _: text
        if vary.clock == "now":
            return lambda _: write_time(now, clock.format)
        if vary.clock == "before":
            return lambda _: write_time(now - timedelta(seconds=rng.randrange(*vary.seconds_before)), clock.format)
        if vary.choice is not None:
            return lambda _: rng.choice(vary.choice)
        if vary.range is not None:
            return lambda _: rng.randrange(*vary.range)
        if vary.ipv4 is not None:
            net = ipaddress.ip_network(vary.ipv4)
            return lambda _: str(net[rng.randrange(1, net.num_addresses - 1)])
        if vary.mac:
            return lambda _: ":".join(f"{rng.randrange(256):02x}" for _ in range(6))
        if vary.hash is not None:
            digest = hashlib.new(vary.hash, str(read(record, self.profile.streams[stream].id_field)).encode())
            return lambda _: digest.hexdigest()
        return lambda _: read(record, vary.same_as)  # same_as

    def add(self, stream: str, malformed: bool = False) -> dict[str, Any]:
        spec = self.profile.streams[stream]
        templates = self.templates[stream]
        if not templates:
            raise ValueError(f"stream {stream}: the corpus holds no record to seed from")
        record = copy.deepcopy(templates[self.seq[stream] % len(templates)])
        now = self.now(stream)
        # same_as reads fields the others set: it goes last; hash reads the id: after ids
        order = sorted(spec.fields.items(), key=lambda kv: (kv[1].same_as is not None, kv[1].hash is not None))
        for path, vary in order:
            vary_path(record, _parts(path), self.value(stream, vary, record, now))
        for other, paths in spec.refs.items():
            if self.records[other]:
                target = self.records[other][self.rng.randrange(len(self.records[other]))]
                for here, there in paths.items():
                    vary_path(record, _parts(here), lambda _, v=read(target, there): v)
        if malformed:
            for path, value in spec.malformed.items():
                *parent, leaf = _parts(path)
                holder = read(record, ".".join(parent)) if parent else record
                holder[leaf] = value
            self.malformed[stream] += 1
        self.records[stream].append(record)
        return record

    def touch(self, stream: str, count: int) -> list[str]:
        """Re-stamp the ``count`` least recently updated records and move their ``update`` fields on."""
        spec = self.profile.streams[stream]
        stamp = next(p for p, v in spec.fields.items() if v.clock == "now")
        oldest = sorted(self.records[stream], key=lambda r: (order_value(read(r, stamp)),
                                                             order_value(read(r, spec.id_field))))[:count]
        for record in oldest:
            now = self.now(stream)
            for path, vary in spec.fields.items():
                if vary.clock == "now":
                    vary_path(record, _parts(path), lambda _: write_time(now, spec.clock.format))
            for path, cycle in spec.update.items():
                vary_path(record, _parts(path), lambda old: cycle[(cycle.index(old) + 1) % len(cycle)]
                          if old in cycle else cycle[0])
        return [str(read(r, spec.id_field)) for r in oldest]


class ProfileSimulator(Simulator):
    """A vendor simulator built from a ``Profile``. Options: ``seed``, ``records`` (every stream) or one
    count per stream name, ``malformed`` (bad records added to each stream), ``per_timestamp``,
    ``rate_limit``, ``rate_window_seconds``, the auth secrets' options, ``token_ttl`` (OAuth2) and
    ``replay`` ({stream: records}: exactly those, verbatim, nothing seeded)."""

    def __init__(self, key: str, profile: Profile, **options: Any) -> None:
        self.key, self.profile = key, profile
        d = profile.defaults
        known = {"seed", "records", "malformed", "per_timestamp", "rate_limit", "rate_window_seconds", "replay",
                 *profile.streams, *(s.option for s in profile.secrets())}
        if isinstance(profile.auth, OAuth2Auth):
            known.add("token_ttl")
            self.token_ttl = int(options.get("token_ttl", profile.auth.token.ttl_seconds))
            self.expire_tokens = self._expire_tokens
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"{key} simulator: unknown options {sorted(unknown)} (known: {sorted(known)})")
        records = options.get("records", d.records)
        self.counts = {name: options.get(name, records) for name in profile.streams}
        self.secrets = {s.option: str(options.get(s.option, s.default)) for s in profile.secrets()}
        self.seeding = dict(seed=options.get("seed", d.seed), malformed=options.get("malformed", 0),
                            per_timestamp=options.get("per_timestamp", d.per_timestamp))
        super().__init__(rate_limit=options.get("rate_limit", d.rate_limit),
                         rate_window_seconds=options.get("rate_window_seconds", d.rate_window_seconds),
                         replay=options.get("replay"))

    def reset(self) -> None:
        self.data = ProfileData(self.key, self.profile, counts=self.counts, replay=self.replay, **self.seeding)
        self.tokens: dict[str, datetime] = {}
        self.tokens_issued = 0

    def _expire_tokens(self) -> None:
        self.tokens.clear()

    def counters(self) -> dict[str, Any]:
        return {"tokens_issued": self.tokens_issued}

    def streams(self) -> dict[str, Stream]:
        d = self.data
        return {name: Stream(d.records[name], d.malformed[name],
                             lambda malformed=False, s=name: d.add(s, malformed),
                             lambda n, s=name: d.touch(s, n), spec.id_field)
                for name, spec in self.profile.streams.items()}

    # -- answers ------------------------------------------------------------------------------

    def answer(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return FastJSONResponse(body, status_code=status, headers=headers)

    def error(self, status: int, headers: dict[str, str], **values: Any) -> Response:
        errors = self.profile.errors
        body = fill(errors.bodies.get(status, errors.body),
                    {"status": status, **errors.statuses.get(status, errors.default), **values})
        return self.answer(body, status, headers)

    def guard(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """(the refusal, or None when the request may go on; the headers every answer carries)."""
        gate = self.control.admit(request)
        errors, headers = self.profile.errors, {}
        if errors.rate_limit_headers is not None:
            named = errors.rate_limit_headers
            for header, value in ((named.limit, self.control.rate_limit), (named.remaining, gate.remaining),
                                  (named.reset, gate.reset_in)):
                if header:
                    headers[header] = str(value)
        if gate.status is not None:
            extra = {errors.retry_after_header: str(gate.retry_after)} if gate.status == 429 and \
                errors.retry_after_header else {}
            return self.error(gate.status, {**headers, **extra}), headers
        if not self.authenticated(request):
            return self.error(401, headers), headers
        return None, headers

    def authenticated(self, request: Request) -> bool:
        auth = self.profile.auth
        if isinstance(auth, ApiKeyAuth):
            value = request.headers.get(auth.header, "")
            return value.startswith(auth.prefix) and value[len(auth.prefix):].strip() == self.secrets[auth.key.option]
        if isinstance(auth, BasicAuth):
            user, password = basic_credentials(request)
            return user == self.secrets[auth.username.option] and \
                (auth.password is None or password == self.secrets[auth.password.option])
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expires = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return expires is not None and expires > datetime.now(timezone.utc)

    async def issue_token(self, request: Request) -> Response:
        auth = self.profile.auth
        assert isinstance(auth, OAuth2Auth)
        gate = self.control.admit(request, budget=False)
        if gate.status is not None:  # a queued fault; a 429 says how long to wait, as the API's do
            retry = self.profile.errors.retry_after_header
            return self.error(gate.status, {retry: str(gate.retry_after)} if gate.status == 429 and retry else {})
        if auth.token.client_auth == "basic":
            client = basic_credentials(request)
        else:
            # an urlencoded form, parsed here: starlette's request.form() needs python-multipart
            form = parse_qs((await request.body()).decode())
            client = (form.get("client_id", [""])[0], form.get("client_secret", [""])[0])
        if client != (self.secrets[auth.client_id.option], self.secrets[auth.client_secret.option]):
            return self.error(401, {})
        token = hashlib.sha256(f"{self.tokens_issued}:{datetime.now(timezone.utc)}".encode()).hexdigest()
        self.tokens[token] = datetime.now(timezone.utc) + timedelta(seconds=self.token_ttl)
        self.tokens_issued += 1
        return self.answer(fill(auth.token.response, {"token": token, "expires_in": self.token_ttl}),
                           auth.token.status)

    def fixed(self, endpoint: Endpoint) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            denied, headers = self.guard(request)
            return denied or self.answer(endpoint.body, headers=headers)
        return handle

    # -- lists ----------------------------------------------------------------------------------

    def matching(self, spec: StreamProfile, rows: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
        for flt in spec.filters:
            raw = query.get(flt.param)
            if raw is None:
                continue
            if flt.template is not None:
                pattern = re.escape(flt.template).replace(re.escape("{value}"), "(.+)")
                m = re.fullmatch(pattern, raw.strip())
                if not m:
                    raise BadRequest(flt.param, f"expected {flt.template!r}")
                raw = m.group(1).strip("'\"")
            try:
                bound = parse_time(raw, flt.format)
            except ValueError:
                raise BadRequest(flt.param, f"not a time as {flt.format}") from None
            kept = []
            for r in rows:
                value = read(r, flt.field)
                try:
                    if value is not None and _OPS[flt.op](parse_time(value, flt.format), bound):
                        kept.append(r)
                except ValueError:
                    continue  # a record the vendor would not match either
            rows = kept
        path, desc = self.sort_path(spec, query)
        if path is None:
            return rows
        return sorted(rows, key=lambda r: (order_value(read(r, path)), order_value(read(r, spec.id_field))),
                      reverse=desc)

    def window(self, spec: StreamProfile, request: Request, rows: list[dict[str, Any]]) -> tuple[int, int]:
        """(first row, rows) of the page the request asks for."""
        p, q = spec.pagination, request.query_params
        if p.by == "range_header":
            value = request.headers.get("range")
            if not value:
                return 0, len(rows)
            m = re.fullmatch(r"\s*items=(\d+)-(\d+)\s*", value)
            if not m or int(m.group(2)) < int(m.group(1)):
                raise BadRequest("Range", "expected items=x-y")
            return int(m.group(1)), int(m.group(2)) - int(m.group(1)) + 1
        try:
            limit = int(q.get(p.limit_param, p.default_limit))
        except ValueError:
            raise BadRequest(p.limit_param, "must be an integer") from None
        if not 1 <= limit <= p.max_limit:
            raise BadRequest(p.limit_param, f"must be 1..{p.max_limit}")
        position = {"offset": p.offset_param, "page": p.page_param}.get(p.by)
        start = 0
        if position is not None:
            try:
                start = int(q.get(position, 0 if p.by == "offset" else p.first_page))
            except ValueError:
                raise BadRequest(position, "must be an integer") from None
            start = start if p.by == "offset" else (start - p.first_page) * limit
            if start < 0:
                raise BadRequest(position, "must not be below the first")
        if p.by == "cursor" and q.get(p.cursor_param):
            start = self.after_cursor(spec, rows, q[p.cursor_param], self.signature(spec, q))
        return start, limit

    def signature(self, spec: StreamProfile, query: Any) -> str:
        p = spec.pagination
        terms = sorted((k, v) for k, v in query.items() if k not in (p.cursor_param, p.limit_param))
        return hashlib.sha1(json.dumps(terms).encode()).hexdigest()[:12]

    def sort_path(self, spec: StreamProfile, query: Any) -> tuple[str | None, bool]:
        """(record path the list is sorted on, descending) for this query: None when unsorted (the
        order records were added in)."""
        sort = spec.sort
        name = (query.get(sort.param) or sort.default) if sort else None
        if sort is None or name is None:
            return None, False
        desc = query.get(sort.order_param, sort.default_order) == "desc" if sort.order_param else name.startswith("-")
        field = name.lstrip("+- ")  # QRadar: sort=+field / -field
        if field not in sort.fields:
            raise BadRequest(sort.param, f"cannot sort by {field!r}")
        return sort.fields[field], desc

    def after_cursor(self, spec: StreamProfile, rows: list[dict[str, Any]], token: str, signature: str) -> int:
        """The first row past a keyset cursor's position (rows are sorted on its sort path, then id)."""
        try:
            cursor = json.loads(base64.urlsafe_b64decode(token.encode()))
            path, desc, (value, last_id) = cursor["path"], cursor["desc"], cursor["after"]
        except (ValueError, KeyError, TypeError):
            raise BadRequest(spec.pagination.cursor_param, "Invalid cursor") from None
        if cursor.get("q") != signature:
            raise BadRequest(spec.pagination.cursor_param, "cursor does not match the query filters")
        after = (order_value(value), order_value(last_id))
        for i, row in enumerate(rows):
            key = (order_value(read(row, path) if path else None), order_value(read(row, spec.id_field)))
            if (key < after) if desc else (key > after):
                return i
        return len(rows)

    async def list_stream(self, request: Request) -> Response:
        name = request.scope["route"].name
        spec = self.profile.streams[name]
        denied, headers = self.guard(request)
        if denied:
            return denied
        p = spec.pagination
        try:
            rows = self.matching(spec, list(self.data.records[name]), request.query_params)
            start, limit = self.window(spec, request, rows)
        except BadRequest as exc:
            return self.error(self.profile.errors.invalid_request_status, headers, field=exc.field, message=str(exc))
        page = rows[start:start + limit]
        more = start + len(page) < len(rows)
        values: dict[str, Any] = {"records": page, "total": len(rows), "offset": start, "limit": limit,
                                  "page": start // limit + p.first_page if limit else p.first_page, "next": p.last_next}
        if more:
            values["next"] = self.next_position(spec, request, start + len(page), page[-1])
        if p.by == "range_header":
            headers["Content-Range"] = f"items {start}-{start + len(page) - 1}/{len(rows)}" if page \
                else f"items */{len(rows)}"
        if p.link == "header" and more:
            headers["Link"] = f'<{values["next"]}>; rel="next"'
        return self.answer(fill(spec.envelope, values), headers=headers)

    def next_position(self, spec: StreamProfile, request: Request, start: int, last: dict[str, Any]) -> Any:
        """The next page's token (cursor paging without links) or URL."""
        p, q = spec.pagination, dict(request.query_params)
        if p.by == "cursor":
            path, desc = self.sort_path(spec, q)
            token = base64.urlsafe_b64encode(json.dumps({
                "q": self.signature(spec, q), "path": path, "desc": desc,
                "after": [read(last, path) if path else None, read(last, spec.id_field)]}).encode()).decode()
            if p.link is None:
                return token
            q[p.cursor_param] = token
        elif p.by == "offset":
            q[p.offset_param] = str(start)
        else:
            limit = int(q.get(p.limit_param, p.default_limit))
            q[p.page_param] = str(start // limit + p.first_page)
        return str(request.url.replace(query=urlencode(q)))

    def routes(self) -> list[Route]:
        routes = [Route(s.route.path, self.list_stream, methods=[s.route.method], name=name)
                  for name, s in self.profile.streams.items()]
        routes += [Route(e.path, self.fixed(e), methods=[e.method]) for e in self.profile.endpoints]
        if isinstance(self.profile.auth, OAuth2Auth):
            routes.append(Route(self.profile.auth.token.path, self.issue_token, methods=["POST"]))
        return routes

    def app(self) -> Starlette:
        app = super().app()
        if 404 in self.profile.errors.statuses:  # an unknown path answered in the vendor's words
            async def not_found(request: Request, exc: Exception) -> Response:
                return self.error(404, {})
            app.add_exception_handler(404, not_found)
        return app


def create_app(key: str, path: Path, **options: Any) -> Any:
    """The ASGI app of connector ``key``'s profile at ``path``."""
    return ProfileSimulator(key, load_profile(path), **options).app()
