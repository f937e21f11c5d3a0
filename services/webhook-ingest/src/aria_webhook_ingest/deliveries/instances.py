"""Connector instances reused across the deliveries of one installation.

Building a connector instance (settings with their defaults, limits, retry policy, mapping plan)
cost ~15 µs per delivery, about 2 % of a delivery's CPU. An instance is an installation's
configuration and secrets; verifying and normalizing a webhook change nothing in it (the SDK
builds one per installation). So one is reused while the delivery comes with the very same
endpoint row and lease objects it was built from: a new endpoint row (every lifecycle change drops
the cached row through its NOTIFY, endpoints/service.py) or a new lease (expiry, a new revision,
the renewal after a failed signature) builds a new instance. An instance holds a copy of the
leased secrets, so it is never used past its lease: it expires when the lease it was built from
does, and expired entries are dropped when instances are built (as LeasedSecrets drops expired
leases when it leases), at most once a second so that a run of misses stays cheap.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from aria_connectors import ConnectorPlugin, DeclarativeConnector, InstallationContext, RuntimeOptions


@dataclass(frozen=True, eq=False)
class _Entry:
    plugin: ConnectorPlugin
    endpoint: asyncpg.Record
    leased: dict[str, Any]
    instance: DeclarativeConnector
    expires_at: float


class ConnectorInstances:
    def __init__(self, *, lease_ttl_s: float, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self._ttl, self._max, self._clock = lease_ttl_s, max_entries, clock
        self._cache: dict[uuid.UUID, _Entry] = {}
        self._next_sweep = 0.0

    def get(self, *, plugin: ConnectorPlugin, endpoint: asyncpg.Record, leased: dict[str, Any], lease_age_s: float,
            http: httpx.AsyncClient) -> DeclarativeConnector:
        """The installation's connector instance built from exactly this endpoint row and lease."""
        installation_id = endpoint["installation_id"]
        now = self._clock()
        hit = self._cache.get(installation_id)
        if (hit is not None and hit.endpoint is endpoint and hit.leased is leased and hit.plugin is plugin
                and now < hit.expires_at):
            return hit.instance
        mappings = endpoint["mappings"]
        instance = plugin.create(
            context=InstallationContext(org_id=endpoint["org_id"], installation_id=installation_id,
                                        integration_key=endpoint["integration_key"]),
            settings=dict(endpoint["settings"] or {}), secrets=leased, http=http,
            options=RuntimeOptions(mappings=tuple(mappings)) if mappings is not None else None)
        self._evict(now)
        self._cache[installation_id] = _Entry(plugin, endpoint, leased, instance, now - lease_age_s + self._ttl)
        return instance

    def _evict(self, now: float) -> None:
        if now >= self._next_sweep:
            self._next_sweep = now + 1.0
            for key in [k for k, entry in self._cache.items() if now >= entry.expires_at]:
                del self._cache[key]
        while len(self._cache) >= self._max:
            del self._cache[next(iter(self._cache))]  # the oldest entry
