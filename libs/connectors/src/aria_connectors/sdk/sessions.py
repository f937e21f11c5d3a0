"""Session-based stream reading: a Python escape hatch for vendors whose pages are NOT
ordered by the incremental cursor (asynchronous export/search jobs, id-ordered listings).

A *session* is one vendor-side traversal: an export job and its chunks, a search job and
its result pages, or an id-ordered listing. The SDK's per-stream checkpoint
``{"cursor", "seen"}`` keeps meaning the anchor every session filters on; while a session
is in progress the checkpoint also carries ``"pending": {<vendor progress>, "max_cursor",
"max_seen"}``. The anchor only advances to the running maximum when the session
completes, so a run resumed from a mid-session checkpoint continues the same session
(same job, next chunk / page) and neither loses records that sat in unread pages with
older cursors nor repeats records already published. If the vendor no longer knows the
session (job expired), the reader restarts from the anchor: records of the old session
may be published again (same raw hash, so consumers deduplicate them).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable

from aria_connectors.errors import ConnectorError, PermanentError
from aria_connectors.sdk import DeclarativeConnector
from aria_connectors.sdk.manifest import StreamSpec
from aria_connectors.sdk.streams import Page, StreamReader, StreamState


class SessionReader(StreamReader):
    """Subclasses implement ``session()``: an async generator of pages that sets
    ``self.pending`` (vendor progress, JSON-able) after each page and ``None`` at the end."""

    def __init__(self, conn: DeclarativeConnector, spec: StreamSpec, state: dict[str, Any] | None,
                 job_id: uuid.UUID | None) -> None:
        super().__init__(conn, spec, state, job_id)
        self.anchor = StreamState(self.state.cursor, set(self.state.seen))
        pending = (state or {}).get("pending") if spec.incremental is not None else None
        self.pending: dict[str, Any] | None = dict(pending) if isinstance(pending, dict) else None
        if self.pending is not None:
            max_cursor = self.pending.pop("max_cursor", None)
            max_seen = self.pending.pop("max_seen", None) or []
            if max_cursor is not None:
                self.state = StreamState(max_cursor, set(map(str, max_seen)))

    def checkpoint(self) -> dict[str, Any]:
        if self.pending is None:
            return self.state.dump()
        return {**self.anchor.dump(), "pending": {**self.pending, "max_cursor": self.state.cursor,
                                                  "max_seen": sorted(self.state.seen)}}

    def process(self, records: list[Any]) -> Page:
        return self._process(records, self.anchor)

    def restart(self) -> None:
        """The vendor forgot the session: start over from the anchor."""
        self.pending = None
        self.state = StreamState(self.anchor.cursor, set(self.anchor.seen))

    async def job_status(self, path: str, *, what: str, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The JSON object a vendor job's status request answers (``what`` names it in errors); None
        when the vendor no longer knows the job (404: expired, or deleted)."""
        try:
            body = await self.conn.api.request_json("GET", path, params=params, what=f"stream {self.spec.name}: {what}")
        except ConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise
        if not isinstance(body, dict):
            raise PermanentError(f"stream {self.spec.name}: {what} is not an object")
        return body

    async def resume_job(self, key: str, status: Callable[[str], Awaitable[Any]], create: Callable[[], Awaitable[str]],
                         **progress: Any) -> str:
        """The id of the vendor job this session reads: the pending one (``pending[key]``) while the
        vendor still knows it (``status(id)`` is not None), else a new one from ``create()`` with
        ``progress`` as its starting point."""
        if self.pending is not None and await status(str(self.pending.get(key))) is None:
            self.restart()
        if self.pending is None:
            self.pending = {key: await create(), **progress}
        return str(self.pending[key])

    async def wait_for_job(self, job_id: str, status: Callable[[str], Awaitable[dict[str, Any] | None]],
                           finished: Callable[[dict[str, Any]], bool], *, what: str = "search job",
                           max_polls: int = 720) -> dict[str, Any]:
        """Polls ``status(job_id)`` with the instance's backoff until ``finished`` says the job is done
        (``finished`` raises PermanentError for a failed job) and returns that status; PermanentError
        when the job disappears or is not done after ``max_polls`` polls."""
        for attempt in range(max_polls):
            current = await status(job_id)
            if current is None:
                raise PermanentError(f"stream {self.spec.name}: {what} {job_id} disappeared")
            if finished(current):
                return current
            await asyncio.sleep(poll_delay(self.conn, attempt))
        raise PermanentError(f"stream {self.spec.name}: {what} not done after {max_polls} polls")

    def empty_page(self) -> Page:
        return Page([], [], self.state, False)

    async def session(self) -> AsyncIterator[Page]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    async def pages(self) -> AsyncIterator[Page]:
        async for page in self.session():
            yield page


class SessionConnector(DeclarativeConnector):
    """Runs ``reader_classes[stream]`` (a SessionReader or any StreamReader) per stream through
    the ``stream_reader()`` hook, so sync and preview are the SDK's; streams not listed use the
    SDK's StreamReader. An export/search job started by a preview is left to expire on the
    vendor side."""

    reader_classes: dict[str, type[StreamReader]] = {}

    def stream_reader(self, spec: StreamSpec, state: dict[str, Any] | None, job_id: uuid.UUID | None) -> StreamReader:
        if spec.name not in self.reader_classes:
            return super().stream_reader(spec, state, job_id)
        return self.reader_classes[spec.name](self, spec, state, job_id)


def poll_delay(conn: DeclarativeConnector, attempt: int, cap: float = 10.0) -> float:
    """Wait between job-status polls: the instance's backoff policy, capped."""
    return min(cap, conn.retry.backoff(attempt))
