"""Which installations are live for webhooks, kept from the installation lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable

import asyncpg
import structlog
from pydantic import ValidationError

from aria_contracts import Envelope
from aria_contracts.events import (
    InstallationConfigured,
    InstallationDisabled,
    InstallationEnabled,
    InstallationEvent,
    InstallationInstalled,
    InstallationMappingsChanged,
    InstallationUninstalled,
)

from . import repo

log = structlog.get_logger(__name__)

# event type → (model, liveness after it (None = unchanged), carries credential refs + settings)
_EFFECTS: dict[str, tuple[type[InstallationEvent], bool | None, bool]] = {
    InstallationInstalled.event_type: (InstallationInstalled, None, False),
    InstallationConfigured.event_type: (InstallationConfigured, None, True),
    InstallationEnabled.event_type: (InstallationEnabled, True, True),
    InstallationDisabled.event_type: (InstallationDisabled, False, False),
    InstallationUninstalled.event_type: (InstallationUninstalled, False, False),
}


class LiveEndpoints:
    """Endpoint rows cached in this process, so finding a delivery's endpoint costs no Postgres
    round trip.

    Safe because every change is announced: `repo.apply_revision` NOTIFYs the installation id on
    `repo.CHANGES_CHANNEL` in the statement that changes the row (delivered when it commits), and
    each process LISTENs on a dedicated connection and drops that entry; the consumer that applies
    the change also drops it in-process (`invalidate`). So a disabled installation or a rotated
    secret (a new revision) takes effect as soon as the change commits, as with a lookup per
    delivery. A lookup that raced an invalidation is not stored (generation counter). While the
    listening connection is down nothing is cached and every lookup reads Postgres; it is pinged
    every `ttl_s / 2`, and entries expire after `ttl_s` (ARIA_ENDPOINT_CACHE_S) in any case, which
    bounds the effect of a notification lost with a silently dead connection. Unknown ids are not
    cached (their number is unbounded); at most `max_entries` rows are.
    """

    def __init__(self, pool: asyncpg.Pool, dsn: str, *, ttl_s: float, max_entries: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self._pool, self._dsn, self._ttl, self._max, self._clock = pool, dsn, ttl_s, max_entries, clock
        self._entries: dict[uuid.UUID, tuple[asyncpg.Record, float]] = {}
        self._generation = 0
        self._listening = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen_forever(), name="webhook-endpoint-changes")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def get(self, installation_id: uuid.UUID) -> asyncpg.Record | None:
        """The endpoint row (live or not), or None for an unknown installation."""
        hit = self._entries.get(installation_id)
        if hit is not None and self._clock() - hit[1] < self._ttl:
            return hit[0]
        generation, loaded_at = self._generation, self._clock()
        row = await repo.get_endpoint(self._pool, installation_id)
        if row is not None and self._listening and generation == self._generation:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[installation_id] = (row, loaded_at)
        return row

    def invalidate(self, installation_id: uuid.UUID | None = None) -> None:
        """Forget one installation's row (None: every row)."""
        self._generation += 1
        if installation_id is None:
            self._entries.clear()
        else:
            self._entries.pop(installation_id, None)

    def _on_change(self, _conn, _pid, _channel, payload: str) -> None:
        try:
            self.invalidate(uuid.UUID(payload))
        except ValueError:
            self.invalidate()

    async def _listen_forever(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _conn: lost.set())
                await conn.add_listener(repo.CHANGES_CHANNEL, self._on_change)
                self._listening = True
                while not lost.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(lost.wait(), self._ttl / 2)
                    if not lost.is_set():
                        await asyncio.wait_for(conn.execute("SELECT 1"), self._ttl / 2)  # still hearing?
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Postgres unreachable: serve uncached and try again shortly
                log.warning("endpoint change listener down; endpoints are read uncached", error=type(exc).__name__)
            finally:
                self._listening = False
                self.invalidate()
                if conn is not None:
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(1.0)


async def apply_lifecycle_event(*, pool: asyncpg.Pool, envelope: Envelope, cache: LiveEndpoints | None = None) -> str:
    """Apply one lifecycle event if it is newer than what we hold. Returns 'applied', 'stale',
    'ignored' (a type we do not know) or 'invalid' (payload does not match its type). Idempotent: the installation revision orders events.

    `cache` (this process's LiveEndpoints) forgets the installation before the change and after
    it; other processes hear of it through the NOTIFY."""
    if envelope.type == InstallationMappingsChanged.event_type:
        model, live, config = InstallationMappingsChanged, None, False
    elif envelope.type in _EFFECTS:
        model, live, config = _EFFECTS[envelope.type]
    else:
        return "ignored"
    try:
        event = envelope.payload(model)
    except ValidationError as exc:
        # Retrying cannot fix a malformed event; skipping it keeps the partition moving.
        log.error("invalid lifecycle event skipped", event_type=envelope.type, event_id=str(envelope.event_id),
                  errors=exc.error_count())
        return "invalid"
    if cache is not None:
        # Before: from here on no lookup that started earlier can store the old row. After: drops
        # a row read while the change was being written. Neither waits for the NOTIFY.
        cache.invalidate(event.installation_id)
    ids = dict(installation_id=event.installation_id, org_id=event.org_id, integration_key=event.integration_key,
               revision=event.revision)
    if isinstance(event, InstallationMappingsChanged):
        applied = await repo.set_mappings(pool, **ids, mappings=event.mappings)
    else:
        applied = await repo.apply_revision(
            pool, **ids, live=live, config=config, credential_ref=getattr(event, "credential_ref", None),
            webhook_credential_ref=getattr(event, "webhook_credential_ref", None),
            settings=getattr(event, "settings", None) or {})
    if cache is not None:
        cache.invalidate(event.installation_id)
    log.info("installation lifecycle", event_type=envelope.type, installation_id=str(event.installation_id),
             revision=event.revision, applied=applied)
    return "applied" if applied else "stale"


async def live_endpoint(*, endpoints: LiveEndpoints, installation_id: uuid.UUID) -> asyncpg.Record | None:
    row = await endpoints.get(installation_id)
    return row if row is not None and row["live"] else None
