"""Reading one stream: records, hydration, incremental cursor with tie-break, mapping.

Incremental correctness (``IncrementalSpec``)
---------------------------------------------
The per-stream checkpoint is ``{"cursor": <raw max cursor value>, "seen": [<tie-break ids
of the records whose cursor equals it>]}``. Requests always filter *inclusively*
(``cursor_field >= cursor``) and sort ascending by the cursor, so a record sharing the
checkpoint's timestamp but not yet read (e.g. it sat just past a page boundary) is
returned again; a record is new unless ``(cursor == checkpoint cursor and id in seen)``.
Hence a re-run from a checkpoint publishes nothing twice and misses nothing, even with
equal timestamps.

How pages are fetched is the pagination kind's (``sdk.paging``: offsets re-anchored on the
cursor, keyset ranges bounded by the newest cursor, vendor tokens and next-page URLs); a reader
turns each page into records (selector, hydration), then events (cursor, tie-break, mapping).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator

import httpx

from ..errors import ConfigurationError, MappingError, PermanentError
from .manifest import StreamSpec
from .mapping import cursor_key, describe_identity, external_id_of, identity_reader
from .paging import paging_for, record_cursor
from .paths import get_path, getter, set_path
from .templates import render
from .types import RecordError

if TYPE_CHECKING:
    from .connector import DeclarativeConnector



# Entity requests of one page in flight at once: the vendor works on the next while we decode one.
# Every request still takes its turn from the instance's rate budget.
HYDRATE_CONCURRENCY = 4


def _origin(url: str) -> tuple[str, str, int | None]:
    u = httpx.URL(url)
    return u.scheme, u.host, u.port


@dataclass
class StreamState:
    cursor: Any = None
    seen: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, data: dict[str, Any] | None) -> "StreamState":
        if not data:
            return cls()
        return cls(cursor=data.get("cursor"), seen=set(map(str, data.get("seen") or [])))

    def dump(self) -> dict[str, Any]:
        return {"cursor": self.cursor, "seen": sorted(self.seen)}


@dataclass
class Page:
    events: list
    errors: list[RecordError]
    state: StreamState
    changed: bool


class StreamReader:
    def __init__(self, conn: "DeclarativeConnector", spec: StreamSpec, state: dict[str, Any] | None,
                 job_id: uuid.UUID | None) -> None:
        self.conn = conn
        self.spec = spec
        self.job_id = job_id
        self.state = StreamState.load(state) if spec.incremental else StreamState()
        self.start_cursor = self.state.cursor
        self.page_requests = 0
        self.filters: dict[str, Any] = {}  # query(): extra request parameters of an ad-hoc read
        # Progress: the records this run has to read, where the vendor says so (the total of its
        # first page: later pages of a re-anchored query count only what is left), and read so far.
        self.total: int | None = None
        self.records_read = 0
        inc = spec.incremental
        # the tie-break among records sharing a cursor value: the declared field, else the identity
        if inc is not None and inc.tie_breaker_field:
            read = getter(inc.tie_breaker_field)
            self._tie_break = lambda record: read(record) if isinstance(record, dict) else None
            self._tie_break_name = repr(inc.tie_breaker_field)
        else:
            self._tie_break = identity_reader(spec.mapping.external_id)
            self._tie_break_name = describe_identity(spec.mapping.external_id)

    def checkpoint(self) -> dict[str, Any]:
        """This stream's checkpoint after the pages read so far (sync stores it)."""
        return self.state.dump()

    # -- helpers ------------------------------------------------------------------------

    def _ctx(self, **extra: Any) -> dict[str, Any]:
        return {**self.conn.template_ctx, **extra}

    def _render(self, value: Any, **extra: Any) -> Any:
        try:
            return render(value, self._ctx(**extra))
        except KeyError as exc:
            raise ConfigurationError(f"stream {self.spec.name}: missing value for {exc.args[0]}") from None

    def _page_size(self, default: int) -> int:
        return self.conn.options.page_size or default

    def _filter_value(self, anchor: StreamState) -> Any:
        inc = self.spec.incremental
        if inc is None or inc.client_side:
            return None
        if anchor.cursor is None:
            return self._render(inc.initial_filter) if inc.initial_filter else None
        cursor = anchor.cursor
        if inc.cursor_type == "datetime" and (inc.cursor_format or inc.cursor_lookback_seconds):
            dt = cursor_key(cursor, "datetime")[0] - timedelta(seconds=inc.cursor_lookback_seconds)
            cursor = dt.strftime(inc.cursor_format) if inc.cursor_format else dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._render(inc.filter_template, cursor=cursor)

    def _filter_params(self, anchor: StreamState) -> dict[str, Any]:
        inc = self.spec.incremental
        value = self._filter_value(anchor)
        if inc is None or inc.filter_in_body or value is None:
            return {}
        return {inc.filter_param: value}

    def _filter_body(self, body: Any, anchor: StreamState) -> Any:
        inc = self.spec.incremental
        if inc is None or not inc.filter_in_body:
            return body
        value = self._filter_value(anchor)
        return body if value is None else set_path(body, inc.filter_param, value)

    def _same_origin(self, url: str | None) -> str | None:
        """A next-page URL from the vendor must stay on the API's origin: credentials are never
        sent to a host the response names."""
        if url is None or not url.startswith(("http://", "https://")):
            return url
        if _origin(url) != _origin(self.conn.api.base_url):
            raise PermanentError(f"stream {self.spec.name}: next page URL leaves the API origin")
        return url

    async def _hydrate(self, ids: list[Any]) -> list[Any]:
        spec = self.spec.hydrate
        assert spec is not None
        ids = [i for i in ids if i is not None]
        chunks = [ids[start:start + spec.batch_size] for start in range(0, len(ids), spec.batch_size)]
        slots = asyncio.Semaphore(HYDRATE_CONCURRENCY)

        async def fetch(chunk: list[Any]) -> list[Any]:
            req = spec.request
            async with slots:
                body = await self.conn.api.request_json(
                    req.method, self._render(req.path, ids=chunk),
                    params=self._render(req.params, ids=chunk) or None,
                    json=self._render(req.json_body, ids=chunk) if req.json_body is not None else None,
                    what=f"stream {self.spec.name} hydrate",
                )
            got = get_path(body, spec.record_selector)
            if not isinstance(got, list):
                raise PermanentError(f"stream {self.spec.name}: hydrate response has no list at {spec.record_selector!r}")
            return got

        if len(chunks) == 1:
            return await fetch(chunks[0])
        tasks = [asyncio.ensure_future(fetch(chunk)) for chunk in chunks]
        try:
            pages = await asyncio.gather(*tasks)
        except BaseException:  # the first failure (classified as ever) cancels the other requests
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        return [record for page in pages for record in page]

    async def _records_of(self, body: Any) -> tuple[list[Any], int]:
        items = get_path(body, self.spec.record_selector)
        if items is None:
            items = []
        if not isinstance(items, list):
            raise PermanentError(f"stream {self.spec.name}: no list at {self.spec.record_selector!r}")
        n = len(items)
        self.records_read += n
        if self.spec.hydrate is not None and items:
            items = await self._hydrate(items)
        return items, n

    # -- processing -----------------------------------------------------------------------

    def _transform(self, raw: Any) -> Any:
        """The record as the mapping sees it (the connector's ``transform_record`` hook)."""
        return self.conn.transform_record(self.spec.name, raw)

    def _process(self, records: list[Any], anchor: StreamState, upper: Any = None, *, below: bool = False) -> Page:
        """``records`` as the vendor sent them: each goes through ``transform_record`` here, and its
        ``raw_sha256`` is taken from the received form, so a hook cannot change the provenance hash.
        A record whose cursor is past ``upper`` (at it too when ``below``: keyset paging's bound)
        changed after its id was queried: a later page or run reads it in its new place."""
        spec = self.spec
        inc = spec.incremental
        errors: list[RecordError] = []
        state = StreamState(self.state.cursor, set(self.state.seen))
        candidates: list[tuple[Any, str, Any, Any]] = []
        anchor_key = cursor_key(anchor.cursor, inc.cursor_type) if (inc and anchor.cursor is not None) else None
        upper_key = cursor_key(upper, inc.cursor_type) if (inc and upper is not None) else None
        for raw in records:
            rec = self._transform(raw)
            if inc is None:
                candidates.append((None, external_id_of(rec, spec.mapping) or "", rec, raw))
                continue
            tb = self._tie_break(rec)
            raw_cursor = record_cursor(rec, inc)
            try:
                if tb is None:
                    raise MappingError(f"missing tie-break id at {self._tie_break_name}")
                # a record the vendor sent without a cursor value is published; it cannot move the cursor
                key = None if raw_cursor is None else cursor_key(raw_cursor, inc.cursor_type)
            except MappingError as exc:
                errors.append(RecordError(spec.name, external_id_of(rec, spec.mapping), str(exc)))
                continue
            tb = str(tb)
            if key is not None:
                if anchor_key is not None and (key < anchor_key or (key == anchor_key and tb in anchor.seen)):
                    continue  # already published by an earlier page or run
                if upper_key is not None and (key > upper_key or (below and key == upper_key)):
                    continue  # changed since the query: read in its new place
            candidates.append((key, tb, rec, raw))
        if inc is not None:
            candidates.sort(key=lambda c: (c[0] is not None, () if c[0] is None else c[0], c[1]))
            cur_key = cursor_key(state.cursor, inc.cursor_type) if state.cursor is not None else None
            for key, tb, rec, _raw in candidates:
                if key is None:
                    continue
                if cur_key is None or key > cur_key:
                    state.cursor = record_cursor(rec, inc)
                    state.seen = {tb}
                    cur_key = key
                elif key == cur_key:
                    state.seen.add(tb)
        events = []
        cursor_from = None if self.start_cursor is None else str(self.start_cursor)
        cursor_to = None if state.cursor is None else str(state.cursor)
        for _key, _tb, rec, raw in candidates:
            mapped, failures = self.conn.map_source(spec.name, rec, raw=raw, stream=spec.name, sync_job_id=self.job_id,
                                                    cursor_from=cursor_from, cursor_to=cursor_to)
            events.extend(mapped)
            if failures:
                errors.extend(RecordError(spec.name, external_id_of(rec, spec.mapping), reason) for reason in failures)
        changed = state.cursor != self.state.cursor or state.seen != self.state.seen
        self.state = state
        return Page(events, errors, state, changed)

    # -- paging -----------------------------------------------------------------------------

    def anchor(self) -> StreamState:
        """The checkpoint a page's query is anchored on: where the stream stands before the page."""
        return StreamState(self.state.cursor, set(self.state.seen))

    async def pages(self) -> AsyncIterator[Page]:
        """The stream's pages, read by the pagination kind the manifest names (``sdk.paging``)."""
        async for page in paging_for(self).pages():
            yield page
