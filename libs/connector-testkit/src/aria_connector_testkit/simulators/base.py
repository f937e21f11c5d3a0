"""Building blocks shared by vendor simulators, and the simulator control protocol.

Every HTTP simulator exposes, besides the vendor's API, these control endpoints (used by
the conformance suite; never part of a vendor API):

* ``GET  /_sim/state`` -> ``{"streams": {name: {"records": n, "malformed": m}}, "requests": {path: n}, "tokens_issued": n}``
* ``POST /_sim/records`` ``{"stream": s, "count": n, "malformed": m, "update": u}`` appends n good and
  m malformed records newer than every existing one, and re-touches u existing records.
* ``POST /_sim/faults`` ``{"status": 500|429|503, "count": n, "retry_after": 1}`` makes the next n API
  responses fail; with ``"after_write": true`` the next n *writes* (creates, updates, comments) are
  carried out and then answered with the fault (a lost response); ``{"clear": true}`` removes
  pending faults.
* Simulators with writes report ``"created": n`` in ``/_sim/state``: objects created through the API
  (the conformance suite checks that a retried push is not applied twice).
* ``POST /_sim/expire_tokens`` invalidates every issued bearer token.
* ``POST /_sim/rate_limit`` ``{"limit": n, "window_seconds": s}`` sets the vendor's request budget until
  the next reset; ``/_sim/state`` reports ``throttled``: the 429s the budget caused.
* ``POST /_sim/reset`` restores the seeded initial state.
"""

from __future__ import annotations

import base64
import math
import random
import re
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Sized

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class FastJSONResponse(JSONResponse):
    """The same JSON as starlette's JSONResponse, serialized by orjson: a vendor answering a
    bulk read with thousands of records should not be slowed by our stand-in's encoder."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass
class Fault:
    status: int
    retry_after: int | None = None
    after_write: bool = False


@dataclass(frozen=True)
class Admission:
    """What the control state says about one API request, before the simulator authenticates it.
    ``status`` None: go ahead; else answer with it (429 with ``retry_after`` seconds, or a queued
    fault's status). ``exhausted``: the 429 is the rate window's, not a queued fault."""

    status: int | None
    retry_after: int
    remaining: int
    reset_in: int
    exhausted: bool = False


@dataclass
class ControlState:
    """Counters, queued faults and the rate-limit window of one simulator app."""

    rate_limit: int = 6000
    rate_window_seconds: float = 60.0
    faults: deque[Fault] = field(default_factory=deque)
    requests: Counter = field(default_factory=Counter)
    window_start: float = field(default_factory=time.monotonic)
    window_count: int = 0
    throttled: int = 0

    def __post_init__(self) -> None:
        self.configured_rate = (self.rate_limit, self.rate_window_seconds)

    def reset_runtime(self) -> None:
        self.faults.clear()
        self.requests.clear()
        self.rate_limit, self.rate_window_seconds = self.configured_rate
        self.window_start = time.monotonic()
        self.window_count = 0
        self.throttled = 0

    def take_fault(self) -> Fault | None:
        """The fault for a request about to be processed (faults queued ``after_write`` wait for a write)."""
        if self.faults and not self.faults[0].after_write:
            return self.faults.popleft()
        return None

    def take_write_fault(self) -> Fault | None:
        """After a write was carried out: the fault its response must be replaced with, if any."""
        if self.faults and self.faults[0].after_write:
            return self.faults.popleft()
        return None

    def take_budget(self) -> tuple[bool, int, float]:
        """(allowed, remaining, seconds until the window resets)."""
        now = time.monotonic()
        if now - self.window_start >= self.rate_window_seconds:
            self.window_start, self.window_count = now, 0
        reset_in = self.rate_window_seconds - (now - self.window_start)
        if self.window_count >= self.rate_limit:
            return False, 0, reset_in
        self.window_count += 1
        return True, self.rate_limit - self.window_count, reset_in


    def answer_write(self, response: Response, refuse: Callable[[Fault], Response]) -> Response:
        """The answer to a write that was carried out: ``response``, or with a fault queued
        ``after_write``, ``refuse(fault)`` in the vendor's words (the client never sees its result)."""
        fault = self.take_write_fault()
        return response if fault is None else refuse(fault)

    def admit(self, request: Request, *, route: str | None = None, budget: bool = True) -> Admission:
        """Count the request (under ``route`` too, when the vendor path has variables), take one
        call from the rate budget (``budget=False``: the endpoint is not rate limited), then
        the next queued fault. The simulator turns a refusal into the vendor's error body."""
        self.requests[request.url.path] += 1
        if route is not None and route != request.url.path:
            self.requests[route] += 1
        if budget:
            allowed, remaining, reset_in = self.take_budget()
        else:
            allowed, remaining, reset_in = True, self.rate_limit, self.rate_window_seconds
        reset = retry_after_seconds(reset_in)
        if not allowed:
            self.throttled += 1
            return Admission(429, reset, 0, reset, exhausted=True)
        fault = self.take_fault()
        if fault is not None:
            return Admission(fault.status, int(fault.retry_after or 1), remaining, reset)
        return Admission(None, 0, remaining, reset)


# A UTC ISO-8601 timestamp with any number of fractional digits (Microsoft's APIs write seven).
TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$")


def ts_key(value: str) -> tuple[str, int]:
    """The order of ``TIMESTAMP`` values: (seconds, nanoseconds); their strings do not sort when the
    number of fractional digits differs. ValueError when ``value`` is not one."""
    m = TIMESTAMP.match(value)
    if not m:
        raise ValueError(value)
    return m.group(1), int((m.group(2) or "0").ljust(9, "0")[:9])


def fmt7(dt: datetime, fraction: int = 0) -> str:
    """``dt`` with seven fractional digits (100 ns units, ``fraction``), as Microsoft's APIs write it."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction % 10**7:07d}Z"


def basic_credentials(request: Request) -> tuple[str, str]:
    """(user, password) of a Basic ``Authorization`` header; ("", "") when absent or garbled."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return "", ""
    return user, password


class SeededData:
    """Deterministic vendor data: a seeded RNG, and a clock per stream on which ``per_timestamp``
    consecutive records share one step (so equal cursors straddle page boundaries, which the
    conformance suite's tie-break tests need). ``malformed`` counts bad records per stream."""

    def __init__(self, seed: int, per_timestamp: int = 2) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.per_timestamp = max(1, per_timestamp)
        self.seq: Counter[str] = Counter()
        self.malformed: Counter[str] = Counter()

    def step(self, stream: str = "records") -> int:
        """The clock step of the next record of ``stream``."""
        n = self.seq[stream]
        self.seq[stream] += 1
        return n // self.per_timestamp

    def minute(self, t0: datetime, stream: str = "records") -> datetime:
        """The time of the next record of ``stream`` on a clock from ``t0`` that moves a minute a step."""
        return t0 + timedelta(minutes=self.step(stream))


def seed_records(add: Callable[..., Any], count: int, malformed: int) -> None:
    """``count`` good then ``malformed`` bad records through ``add(malformed=...)``."""
    for _ in range(count):
        add()
    for _ in range(malformed):
        add(malformed=True)


def record_counts(records: int | None, default: int = 60, **per_stream: int | None) -> dict[str, int]:
    """Seeded records per stream: the stream's own option, else ``records`` (every stream), else ``default``."""
    common = default if records is None else records
    return {name: common if count is None else count for name, count in per_stream.items()}


async def json_object(request: Request) -> dict[str, Any] | None:
    """The request's JSON body when it is an object; None when it is not JSON or not an object."""
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def append_records(add: Callable[..., dict[str, Any]], touch: Callable[[int], list[str]], count: int, malformed: int,
                   update: int, id_field: str = "id") -> dict[str, Any]:
    """The ``POST /_sim/records`` answer of a one-stream simulator: ids added, ids re-touched."""
    added = [str(add()[id_field]) for _ in range(count)]
    added += [str(add(malformed=True)[id_field]) for _ in range(malformed)]
    return {"added": added, "updated": touch(update) if update else []}


def control_routes(
    control: ControlState,
    *,
    state: Callable[[], dict[str, Any]],
    add_records: Callable[[str, int, int, int], dict[str, Any]],
    reset: Callable[[], None],
    expire_tokens: Callable[[], None] | None = None,
) -> list[Route]:
    async def get_state(request: Request) -> Response:
        return JSONResponse({**state(), "requests": dict(control.requests), "throttled": control.throttled})

    async def post_records(request: Request) -> Response:
        body = await request.json()
        try:
            result = add_records(str(body["stream"]), int(body.get("count", 0)), int(body.get("malformed", 0)),
                                 int(body.get("update", 0)))
        except KeyError as exc:
            return JSONResponse({"error": f"unknown stream {exc}"}, status_code=404)
        return JSONResponse(result, status_code=201)

    async def post_faults(request: Request) -> Response:
        body = await request.json()
        if body.get("clear"):
            control.faults.clear()
        else:
            for _ in range(int(body.get("count", 1))):
                control.faults.append(Fault(int(body.get("status", 500)), body.get("retry_after"),
                                            bool(body.get("after_write", False))))
        return JSONResponse({"pending": len(control.faults)})

    async def post_expire(request: Request) -> Response:
        if expire_tokens is not None:
            expire_tokens()
        return JSONResponse({"expired": expire_tokens is not None})

    async def post_rate_limit(request: Request) -> Response:
        body = await request.json()
        control.rate_limit, control.rate_window_seconds = int(body["limit"]), float(body["window_seconds"])
        control.window_start, control.window_count = time.monotonic(), 0
        return JSONResponse({"limit": control.rate_limit, "window_seconds": control.rate_window_seconds})

    async def post_reset(request: Request) -> Response:
        control.reset_runtime()
        reset()
        return JSONResponse({"reset": True})

    return [
        Route("/_sim/state", get_state, methods=["GET"]),
        Route("/_sim/records", post_records, methods=["POST"]),
        Route("/_sim/faults", post_faults, methods=["POST"]),
        Route("/_sim/expire_tokens", post_expire, methods=["POST"]),
        Route("/_sim/rate_limit", post_rate_limit, methods=["POST"]),
        Route("/_sim/reset", post_reset, methods=["POST"]),
    ]


def retry_after_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


def simulator_app(sim: Any, routes: list[Route], *, expire_tokens: Callable[[], None] | None = None) -> Starlette:
    """The ASGI app of a simulator object (``control``, ``state()``, ``add_records()``, ``reset()``):
    its vendor ``routes`` plus the control protocol; ``app.state.simulator`` is the object."""
    app = Starlette(routes=[*routes, *control_routes(sim.control, state=sim.state, add_records=sim.add_records,
                                                     reset=sim.reset, expire_tokens=expire_tokens)])
    app.state.simulator = sim
    return app


@dataclass(frozen=True)
class Stream:
    """One stream of a simulator's data as the control protocol sees it: the stored ``records``
    (``/_sim/state`` counts them), how many of them are ``malformed``, ``add(malformed=False)`` ->
    the new record, ``touch(n)`` -> the ids of the n records it re-stamped as updated."""

    records: Sized
    malformed: int
    add: Callable[..., dict[str, Any]]
    touch: Callable[[int], list[str]]
    id_field: str = "id"


class Simulator:
    """The control-protocol side every vendor simulator shares, so that a vendor's simulator is its
    data and its documented API. A subclass keeps its options, then calls ``super().__init__``
    (which seeds it through ``reset()``), and gives ``streams()``, ``routes()`` (the vendor's API),
    ``created`` (objects created through its API) when it has writes, ``counters()`` when
    ``/_sim/state`` reports more (``tokens_issued``, ``jobs``, ...) and an ``expire_tokens()``
    method when it issues bearer tokens."""

    expire_tokens: Callable[[], None] | None = None
    # Objects created through the vendor API, for simulators with writes; ``reset()`` sets it to 0.
    created: int | None = None

    def __init__(self, *, rate_limit: int, rate_window_seconds: float,
                 replay: dict[str, list[Any]] | None = None) -> None:
        # Replay mode (a corpus of real responses, aria_connector_testkit.corpus): ``reset()`` holds
        # exactly these records for the named streams, verbatim and in order, and nothing else.
        self.replay = replay
        self.control = ControlState(rate_limit=rate_limit, rate_window_seconds=rate_window_seconds)
        self.reset()

    def reset(self) -> None:
        raise NotImplementedError

    def streams(self) -> dict[str, Stream]:
        raise NotImplementedError

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def counters(self) -> dict[str, Any]:
        return {}

    def state(self) -> dict[str, Any]:
        streams = {name: {"records": len(s.records), "malformed": s.malformed} for name, s in self.streams().items()}
        state: dict[str, Any] = {"streams": streams, "tokens_issued": 0}  # a simulator with tokens counts them
        if self.created is not None:
            state["created"] = self.created
        return {**state, **self.counters()}

    def add_records(self, stream: str, count: int, malformed: int, update: int) -> dict[str, Any]:
        s = self.streams()[stream]  # an unknown stream: KeyError, which the control protocol answers with 404
        return append_records(s.add, s.touch, count, malformed, update, s.id_field)

    def app(self) -> Starlette:
        return simulator_app(self, self.routes(), expire_tokens=self.expire_tokens)
