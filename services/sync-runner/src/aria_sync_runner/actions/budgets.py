"""The rate budget of each target installation for push actions, per replica.

A connector instance has its own client-side limiter (``RateLimiter``: the manifest's token
buckets) and backs off on 429s, but an action opens a new instance per run, so its limiter starts
full every time: a rule matching a thousand risks would send a thousand requests at once. Here one
limiter per target installation lives as long as the process and every run (on demand or from a
rule) takes a token from it before calling the vendor; the connector's own limiter and 429 backoff
still apply inside the run. A connector that declares no budget gets ``default_per_minute``.

Per replica: N replicas may together send N times the budget (sync jobs of the same installation
keep their own budget too). The vendor's 429s, honoured by the SDK, bound what that overshoot costs.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict

from aria_connectors.sdk.http import RateLimiter
from aria_connectors.sdk.manifest import RateLimits

MAX_TARGETS = 4096


class TargetBudgets:
    def __init__(self, *, default_per_minute: int, default_burst: int):
        self._default = {"requests_per_minute": default_per_minute, "burst": default_burst}
        self._limiters: OrderedDict[uuid.UUID, RateLimiter] = OrderedDict()

    def limiter(self, installation_id: uuid.UUID, limits: RateLimits) -> RateLimiter:
        found = self._limiters.get(installation_id)
        if found is None:
            declared = limits.requests_per_minute or limits.requests_per_hour or limits.requests_per_day
            found = RateLimiter(limits if declared else limits.model_copy(update=self._default))
            self._limiters[installation_id] = found
            if len(self._limiters) > MAX_TARGETS:  # the least recently used target starts afresh
                self._limiters.popitem(last=False)
        self._limiters.move_to_end(installation_id)
        return found

    async def acquire(self, installation_id: uuid.UUID, limits: RateLimits) -> None:
        """Wait for the target's next token."""
        await self.limiter(installation_id, limits).acquire()
