"""Per-process cache of list / search / facet answers and of each integration's JSON, valid for one
catalog version.

Why it is safe: `catalog_cache_version` (migration 0004) moves in the same transaction as every
change to the catalog rows or the installed-in-org ledger. A request reads the version first and
only uses answers (and items) computed at that version; an answer computed while the version moved
is not kept. So after a change commits, no worker serves an answer from before it. Bound: at most
MAX_ENTRIES answers per process (a page and its encodings are separate entries) and MAX_ITEMS
items, oldest dropped first; all dropped when the version moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from . import repo

if TYPE_CHECKING:
    from ..deps import CatalogDeps

MAX_ENTRIES = 4096
MAX_ITEMS = 16_384  # integration summaries (~0.7 KB each): the whole catalog of the benchmark fits


class ResponseCache:
    def __init__(self, max_entries: int = MAX_ENTRIES, max_items: int = MAX_ITEMS):
        self._max = max_entries
        self._max_items = max_items
        self._version = -1
        self._entries: dict[Hashable, Any] = {}
        self._items: dict[Hashable, Any] = {}

    def observe(self, version: int) -> None:
        if version > self._version:
            self._entries.clear()
            self._items.clear()
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

    async def items(self, version: int, keys: Sequence[Hashable],
                    compute: Callable[[list[Hashable]], Awaitable[dict[Hashable, Any]]]) -> list[Any]:
        """The value of each key, in order; `compute` gets the keys not cached and returns their values."""
        cached = self._items if version == self._version else {}
        found = {k: cached[k] for k in keys if k in cached}  # copied: a newer version may clear the cache meanwhile
        if len(found) < len(keys):
            computed = await compute([k for k in keys if k not in found])
            found.update(computed)
            if version == self._version:
                for k in computed:
                    if len(self._items) >= self._max_items:
                        del self._items[next(iter(self._items))]
                    self._items[k] = computed[k]
        return [found[k] for k in keys]


class VersionReads:
    """Reads of the version, shared by the requests that arrived before the read was sent.

    A request joins the read not yet sent, or starts one; the read's task marks itself sent before
    it queries. So every request is answered by a read sent after it arrived: it sees every change
    committed before it arrived, as with a read of its own, and under load one query serves the
    requests of one event-loop turn (one fewer round trip and pool checkout each).
    """

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool
        self._next: asyncio.Future[int] | None = None
        self._sending: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    async def read(self) -> int:
        if self._next is None:
            loop = asyncio.get_running_loop()
            self._next = loop.create_future()
            task = loop.create_task(self._send(self._next))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return await asyncio.shield(self._next)  # one waiter cancelled does not cancel the others' read

    async def _send(self, result: asyncio.Future[int]) -> None:
        self._next = None  # later arrivals need a later read
        try:
            result.set_result(await repo.cache_version(self._pool))
        except asyncio.CancelledError:
            result.cancel()
            raise
        except Exception as exc:  # every waiter sees the failure
            result.set_exception(exc)


@dataclass(frozen=True)
class CatalogView:
    """The catalog as of one version: what one request reads through."""

    pool: asyncpg.Pool
    version: int
    cache: ResponseCache

    async def cached(self, key: Hashable, compute: Callable[[], Awaitable[Any]]) -> Any:
        return await self.cache.get(self.version, key, compute)

    async def cached_items(self, keys: Sequence[Hashable],
                           compute: Callable[[list[Hashable]], Awaitable[dict[Hashable, Any]]]) -> list[Any]:
        return await self.cache.items(self.version, keys, compute)


async def current_view(pool: asyncpg.Pool, deps: CatalogDeps) -> CatalogView:
    version = await deps.versions.read()
    deps.responses.observe(version)
    return CatalogView(pool=pool, version=version, cache=deps.responses)
