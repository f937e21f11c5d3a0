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
* ``POST /_sim/reset`` restores the seeded initial state.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Fault:
    status: int
    retry_after: int | None = None
    after_write: bool = False


@dataclass
class ControlState:
    """Counters, queued faults and the rate-limit window of one simulator app."""

    rate_limit: int = 6000
    rate_window_seconds: float = 60.0
    faults: deque[Fault] = field(default_factory=deque)
    requests: Counter = field(default_factory=Counter)
    window_start: float = field(default_factory=time.monotonic)
    window_count: int = 0

    def reset_runtime(self) -> None:
        self.faults.clear()
        self.requests.clear()
        self.window_start = time.monotonic()
        self.window_count = 0

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


def control_routes(
    control: ControlState,
    *,
    state: Callable[[], dict[str, Any]],
    add_records: Callable[[str, int, int, int], dict[str, Any]],
    reset: Callable[[], None],
    expire_tokens: Callable[[], None] | None = None,
) -> list[Route]:
    async def get_state(request: Request) -> Response:
        return JSONResponse({**state(), "requests": dict(control.requests)})

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

    async def post_reset(request: Request) -> Response:
        control.reset_runtime()
        reset()
        return JSONResponse({"reset": True})

    return [
        Route("/_sim/state", get_state, methods=["GET"]),
        Route("/_sim/records", post_records, methods=["POST"]),
        Route("/_sim/faults", post_faults, methods=["POST"]),
        Route("/_sim/expire_tokens", post_expire, methods=["POST"]),
        Route("/_sim/reset", post_reset, methods=["POST"]),
    ]


def retry_after_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))
