"""Parent/child ("fan-out") streams: children read per parent record.

Some vendors have no listing of the records a connector wants, only one per parent: Veracode's
findings per application (``/appsec/v2/applications/{guid}/findings``), Checkmarx One's results per
scan (``/api/results?scan-id=...``). A stream declares its parents in the manifest (``parents:``,
``manifest.ParentsSpec``) and needs no Python:

1. the parents are listed through ``parents.request`` / ``record_selector`` / ``pagination``, filtered
   from the checkpoint by the stream's ``incremental`` spec (which, on a fan-out stream, describes the
   parents: its cursor and tie-break are read in the parent record);
2. parents at or before the checkpoint (older cursor, or the same cursor and an id in ``seen``) are
   dropped, the others are read oldest first (cursor, then id);
3. for each, the stream's own request, paging kind and mapping read its children, with
   ``{parent.<field>}`` in the request templates; each child record carries its parent under
   ``parents.attach_as`` for the mapping (the raw hash stays the child's own).

The session (``sdk.sessions``) keeps the checkpoint's anchor until every parent is read, with
``pending = {"parent": <id>, "parent_cursor": <its cursor>, "pages": <its child pages done>}``: a
resumed run lists the parents again from the same anchor, skips those ordered before the pending
one, skips the child pages already published of the pending one (they are fetched again, not
published again) and goes on; only the finished run moves the cursor to the newest parent read.
A parent changed since (a newer cursor) sorts later and is read whole again. Assumption, as for
every cursor: the vendor never stamps a parent older than one it already stamped.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, AsyncIterator

from ..errors import PermanentError
from .mapping import cursor_key
from .paging import paging_for, record_cursor
from .paths import getter
from .sessions import SessionReader
from .streams import Page, StreamReader, StreamState

if TYPE_CHECKING:
    from .connector import DeclarativeConnector
    from .manifest import StreamSpec


def _order(key: Any, pid: str) -> tuple:
    """Sort key of a parent: those without a cursor first, then by cursor, then by id."""
    return (key is not None, () if key is None else key, pid)


class _Collector(StreamReader):
    """Reads a listing with its own paging kind, filtered from the owner's anchor; collects the
    records instead of mapping them and never moves its state (so offsets simply advance)."""

    def __init__(self, owner: SessionReader, spec: "StreamSpec") -> None:
        super().__init__(owner.conn, spec, owner.anchor.dump() if owner.spec.incremental else None, owner.job_id)
        self.filters = dict(owner.filters)
        self.found: list[Any] = []

    def _process(self, records: list[Any], anchor: StreamState, upper: Any = None, *, below: bool = False) -> Page:
        self.found.extend(records)
        return Page([], [], self.state, False)

    def take(self) -> list[Any]:
        found, self.found = self.found, []
        return found


class ListingSessionReader(SessionReader):
    """An incremental stream whose listing is not ordered by its cursor (Checkmarx One's projects:
    no time filter, no documented order), read through the manifest's paging kind (offset, page
    number, ...) as one session: every page is compared with the run's anchor, the checkpoint keeps
    ``pending = {"pages": <pages done>}`` and the cursor moves to the newest value read only when
    the listing ends. A resumed run reads the listing again and publishes from the page after the
    last one done (a listing that shifted meanwhile may re-publish or, for a record deleted in
    between, pass one record: the next run reads it, the cursor not having moved)."""

    async def session(self) -> AsyncIterator[Page]:
        lister = _Collector(self, self.spec)
        skip = int((self.pending or {}).get("pages") or 0)
        done = 0
        async for _ in paging_for(lister).pages():
            done += 1
            records = lister.take()
            self.page_requests, self.total, self.records_read = lister.page_requests, lister.total, lister.records_read
            self.pending = {"pages": done}
            if done <= skip:
                continue  # published before the checkpoint was taken
            yield self.process(records)
        self.pending = None  # the listing is finished: the cursor moves
        yield Page([], [], self.state, False)


def _parent_lister(owner: "FanoutReader") -> _Collector:
    parents = owner.spec.parents
    assert parents is not None
    spec = owner.spec.model_copy(update={"request": parents.request, "record_selector": parents.record_selector,
                                         "pagination": parents.pagination, "hydrate": None, "parents": None})
    return _Collector(owner, spec)


class _ChildReader(StreamReader):
    """One parent's children: the stream's request and paging with ``{parent.*}`` in its templates,
    mapped without a cursor of their own (the parent's is the window's end in provenance)."""

    def __init__(self, owner: "FanoutReader", parent: dict[str, Any], parent_cursor: Any) -> None:
        spec = owner.spec.model_copy(update={"incremental": None, "parents": None})
        super().__init__(owner.conn, spec, None, owner.job_id)
        self.parent = parent
        self.attach_as = owner.spec.parents.attach_as if owner.spec.parents else None
        self.start_cursor = owner.anchor.cursor
        self.state = StreamState(parent_cursor, set())

    def _ctx(self, **extra: Any) -> dict[str, Any]:
        return super()._ctx(parent=self.parent, **extra)

    def _transform(self, raw: Any) -> Any:
        rec = super()._transform(raw)
        if self.attach_as and isinstance(rec, dict):
            rec = {**rec, self.attach_as: self.parent}
        return rec


class FanoutReader(SessionReader):
    """A stream with ``parents:`` (see the module). ``page_requests`` counts child pages (preview)."""

    def __init__(self, conn: "DeclarativeConnector", spec: "StreamSpec", state: dict[str, Any] | None,
                 job_id: uuid.UUID | None) -> None:
        super().__init__(conn, spec, state, job_id)
        if spec.parents is None:
            raise PermanentError(f"stream {spec.name}: a fan-out reader needs parents")
        self._parent_id = getter(spec.parents.id_field)

    async def parents(self) -> list[tuple[tuple, str, Any, dict[str, Any]]]:
        """(order key, id, cursor value, record) of every parent past the anchor, oldest first."""
        lister = _parent_lister(self)
        async for _ in paging_for(lister).pages():
            pass
        inc = self.spec.incremental
        anchor_key = cursor_key(self.anchor.cursor, inc.cursor_type) if inc and self.anchor.cursor is not None else None
        out = []
        for record in lister.found:
            if not isinstance(record, dict):
                continue
            pid = self._parent_id(record)
            if pid is None or pid == "":
                raise PermanentError(f"stream {self.spec.name}: a parent has no id at {self.spec.parents.id_field!r}")
            pid = str(pid)
            cursor = record_cursor(record, inc) if inc else None
            key = cursor_key(cursor, inc.cursor_type) if cursor is not None else None  # type: ignore[union-attr]
            if key is not None and anchor_key is not None and (
                    key < anchor_key or (key == anchor_key and pid in self.anchor.seen)):
                continue  # read by an earlier run
            out.append((_order(key, pid), pid, cursor, record))
        out.sort(key=lambda p: p[0])
        return out

    def _fold(self, cursor: Any, pid: str) -> None:
        """A parent read whole: the running maximum the cursor moves to when the session ends."""
        inc = self.spec.incremental
        if inc is None or cursor is None:
            return
        key = cursor_key(cursor, inc.cursor_type)
        current = cursor_key(self.state.cursor, inc.cursor_type) if self.state.cursor is not None else None
        if current is None or key > current:
            self.state = StreamState(cursor, {pid})
        elif key == current:
            self.state.seen.add(pid)

    async def session(self) -> AsyncIterator[Page]:
        resume: tuple | None = None
        skip = 0
        if self.pending is not None:
            inc = self.spec.incremental
            pc = self.pending.get("parent_cursor")
            key = cursor_key(pc, inc.cursor_type) if inc is not None and pc is not None else None
            resume = _order(key, str(self.pending.get("parent")))
            skip = int(self.pending.get("pages") or 0)
        parents = await self.parents()
        for order, pid, cursor, record in parents:
            if resume is not None and order < resume:
                continue  # read whole before the checkpoint was taken
            to_skip = skip if resume is not None and order == resume else 0
            self.pending = {"parent": pid, "parent_cursor": cursor, "pages": 0}
            child = _ChildReader(self, record, cursor)
            done, counted = 0, 0
            async for page in paging_for(child).pages():
                done += 1
                self.page_requests += child.page_requests - counted
                counted = child.page_requests
                self.pending = {"parent": pid, "parent_cursor": cursor, "pages": done}
                if done <= to_skip:
                    continue  # published before the checkpoint was taken
                yield Page(page.events, page.errors, self.state, False)
            self.records_read += child.records_read
            self._fold(cursor, pid)
        self.pending = None  # every parent read: the cursor moves
        yield Page([], [], self.state, False)
