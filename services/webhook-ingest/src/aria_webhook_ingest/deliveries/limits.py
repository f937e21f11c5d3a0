"""Per-installation token buckets, in memory, per process.

Each process limits on its own, so with N replicas behind a load balancer an installation may
get up to N times the configured rate; the limit protects each worker (and Postgres, Kafka and
vault-gateway behind it) from one noisy or hostile sender, it is not a billing quota. Buckets
exist only for known live installations (the lookup comes first), and idle full buckets are
dropped, so memory stays bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable


class TokenBuckets:
    def __init__(self, *, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_buckets: int = 10_000):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self._rate, self._burst, self._clock, self._max = rate_per_s, float(burst), clock, max_buckets
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key → (tokens, last refill time)

    def take(self, key: Hashable) -> float | None:
        """Take one token. None when allowed; otherwise seconds until the next token."""
        now = self._clock()
        tokens, last = self._buckets.get(key, (self._burst, now))
        tokens = min(self._burst, tokens + (now - last) * self._rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > self._max:
                self._prune(now)
            return None
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self._rate

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled completely: they behave exactly like new ones."""
        full_after = self._burst / self._rate
        for key in [k for k, (_, last) in self._buckets.items() if now - last >= full_after]:
            del self._buckets[key]


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
