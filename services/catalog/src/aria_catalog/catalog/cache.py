"""Per-process cache of list / search / facet answers, valid for one catalog version.

Why it is safe: `catalog_cache_version` (migration 0004) moves in the same transaction as every
change to the catalog rows or the installed-in-org ledger. A request reads the version first and
only uses answers computed at that version; an answer computed while the version moved is not
kept. So after a change commits, no worker serves an answer from before it. Bound: at most
MAX_ENTRIES entries per process (a page and its encodings are separate entries), oldest dropped
first; all dropped when the version moves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

import asyncpg

from aria_platform.runtime import Runtime

from . import repo

MAX_ENTRIES = 4096


class ResponseCache:
    def __init__(self, max_entries: int = MAX_ENTRIES):
        self._max = max_entries
        self._version = -1
        self._entries: dict[Hashable, Any] = {}

    def observe(self, version: int) -> None:
        if version > self._version:
            self._entries.clear()
            self._version = version

    async def get(self, version: int, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        if version == self._version and key in self._entries:
            return self._entries[key]
        value = await compute()
        if version == self._version:  # still current: a newer version seen meanwhile drops the answer
            if len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = value
        return value


@dataclass(frozen=True)
class CatalogView:
    """The catalog as of one version: what one request reads through."""

    pool: asyncpg.Pool
    version: int
    cache: ResponseCache

    async def cached(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        return await self.cache.get(self.version, key, compute)


async def current_view(rt: Runtime) -> CatalogView:
    cache: ResponseCache = rt.extras.setdefault("catalog_response_cache", ResponseCache())
    version = await repo.cache_version(rt.pool)
    cache.observe(version)
    return CatalogView(pool=rt.pool, version=version, cache=cache)
