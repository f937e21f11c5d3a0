"""Signing secrets leased from vault-gateway, reused for a short time.

Secrets live only in this process's memory, never in Postgres, Kafka, logs or errors. A lease
is reused for `ttl_s` (ARIA_SECRET_CACHE_S, default 30 s) so a burst of deliveries costs one
call to vault-gateway; concurrent misses for the same credential share one call. A lease belongs
to the endpoint revision it was taken for: a newer revision (a rotated secret, a new
configuration) leases again at once, on every replica, since each learns the revision from its
endpoint row (cached, but dropped by the NOTIFY of every change: endpoints/service.py LiveEndpoints).
What is built from a lease's secrets (the installation's connector instance, instances.py) is kept
on the lease, so it lives exactly as long as the lease does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from aria_platform.internal import InternalClient
from aria_platform.problems import Problem

log = structlog.get_logger(__name__)


class SecretUnavailable(Exception):
    """vault-gateway has no readable credential for this installation (missing or shredded)."""


@dataclass(eq=False)
class Lease:
    secrets: dict[str, Any]
    leased_at: float
    built: Any = None  # what instances.py built from these secrets; dropped with the lease


class LeasedSecrets:
    def __init__(self, client: InternalClient, *, ttl_s: float, clock: Callable[[], float] = time.monotonic):
        self._client, self._ttl, self._clock = client, ttl_s, clock
        self._cache: dict[tuple[uuid.UUID, str, int], Lease] = {}
        self._locks: dict[tuple[uuid.UUID, str, int], asyncio.Lock] = {}

    async def get(self, *, installation_id: uuid.UUID, credential_ref: str | None, revision: int,
                  max_age_s: float | None = None) -> tuple[Lease, float]:
        """(the lease, its age in seconds). `max_age_s` forces a newer lease than that."""
        if not credential_ref:
            raise SecretUnavailable("installation has no credential")
        key = (installation_id, credential_ref, revision)
        limit = self._ttl if max_age_s is None else min(self._ttl, max_age_s)
        cached = self._fresh(key, limit)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh(key, limit)  # another request may have leased meanwhile
            if cached is not None:
                return cached
            lease = self._cache[key] = Lease(await self._lease(installation_id, credential_ref), self._clock())
            self._evict_expired()
            return lease, 0.0

    def _fresh(self, key, limit: float) -> tuple[Lease, float] | None:
        hit = self._cache.get(key)
        if hit is None:
            return None
        age = self._clock() - hit.leased_at
        return (hit, age) if age < limit else None

    def _evict_expired(self) -> None:
        now = self._clock()
        for key in [k for k, lease in self._cache.items() if now - lease.leased_at >= self._ttl]:
            del self._cache[key]
            self._locks.pop(key, None)

    async def _lease(self, installation_id: uuid.UUID, credential_ref: str) -> dict:
        response = await self._client.request(  # transport errors / 5xx → 503 problem
            "POST", f"/internal/v1/credentials/{credential_ref}/lease", json={"installation_id": str(installation_id)})
        if response.status_code in (404, 410, 422):
            raise SecretUnavailable(f"vault-gateway answered {response.status_code}")
        if response.status_code != 200:
            # Our own identity is refused (401/403): a deployment problem, the sender should retry later.
            log.error("lease refused", status=response.status_code, installation_id=str(installation_id))
            raise Problem(503, "dependency_unavailable", "Dependency unavailable",
                          f"vault-gateway refused the lease ({response.status_code})", headers={"Retry-After": "30"})
        return response.json()["secrets"]
