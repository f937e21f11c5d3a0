"""Reading one stream: paging, hydration, incremental cursor with tie-break, mapping.

Incremental correctness (``IncrementalSpec``)
---------------------------------------------
The per-stream checkpoint is ``{"cursor": <raw max cursor value>, "seen": [<tie-break ids
of the records whose cursor equals it>]}``. Requests always filter *inclusively*
(``cursor_field >= cursor``) and sort ascending by the cursor, so a record sharing the
checkpoint's timestamp but not yet read (e.g. it sat just past a page boundary) is
returned again; a record is new unless ``(cursor == checkpoint cursor and id in seen)``.
Hence a re-run from a checkpoint publishes nothing twice and misses nothing, even with
equal timestamps.

With offset pagination the query is *re-anchored* on every page: the filter uses the
cursor reached so far and the offset restarts at 0 whenever the cursor advanced (it only
grows while a page is entirely made of records at the anchor cursor). Page-number and
Range-header paging are offsets in another form and re-anchor the same way. Cursor-,
search_after-, Link- and next-URL-paginated streams keep the first filter and follow the
vendor's tokens.

Keyset pagination (``KeysetPagination``) adds what re-anchoring lacks: the run's range is
bounded above by the newest cursor value U at its start (records below U first, then those at
U), so the set of records being read only shrinks while it runs. A record updated mid-sync (or
between an id query and its entity fetch) gets a cursor of at least U: it leaves the range
instead of moving the checkpoint past records not yet read, and is read at U or by the next
run. Inside a run of equal cursor values, where an offset is unavoidable, a changed total
restarts the offset at 0.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import timedelta
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, AsyncIterator

import httpx

from ..errors import ConfigurationError, MappingError, PermanentError
from .manifest import (
    CursorPagination,
    KeysetPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PageNumberPagination,
    RangeHeaderPagination,
    SearchAfterPagination,
    StreamSpec,
)
from .mapping import cursor_key, describe_identity, external_id_of, identity_reader
from .paths import get_path, getter, set_path
from .templates import render
from .types import RecordError

if TYPE_CHECKING:
    from .connector import DeclarativeConnector


_CONTENT_RANGE = re.compile(r"\s(\d+)-(\d+)/(\d+)")
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
        if inc is None:
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

    def _keyset_params(self, base: dict[str, Any], anchor: StreamState, bound: str | None, *, sort: str,
                       limit: int) -> dict[str, Any]:
        """A keyset request's parameters: the caller's own filter (an ad-hoc query's), the cursor
        filter and the upper ``bound`` term joined into one filter, the sort (its own parameter, or
        the filter's last term) and the page size."""
        pag, inc = self.spec.pagination, self.spec.incremental
        assert isinstance(pag, KeysetPagination) and inc is not None
        terms = [base.get(inc.filter_param), self._filter_value(anchor), bound]
        params = {**base, pag.limit_param: limit}
        if pag.sort_param:
            params[pag.sort_param] = sort
        else:
            terms.append(sort)
        joined = pag.filter_join.join(str(t) for t in terms if t)
        if joined:
            params[inc.filter_param] = joined
        return params

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
            rec = self.conn.transform_record(spec.name, raw)
            if inc is None:
                candidates.append((None, external_id_of(rec, spec.mapping) or "", rec, raw))
                continue
            tb = self._tie_break(rec)
            raw_cursor = get_path(rec, inc.cursor_field) if isinstance(rec, dict) else None
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
                    state.cursor = get_path(rec, inc.cursor_field)
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

    async def pages(self) -> AsyncIterator[Page]:
        spec = self.spec
        req = spec.request
        pag = spec.pagination
        base_params = {**self._render(req.params), **self.filters}
        json_body = self._render(req.json_body) if req.json_body is not None else None
        path = self._render(req.path)
        what = f"stream {spec.name}"

        if isinstance(pag, (OffsetPagination, PageNumberPagination, RangeHeaderPagination)):
            # page numbers and Range headers are offsets in another form: all re-anchor the same way
            limit = self._page_size(pag.page_size)
            if getattr(pag, "max_page_size", None):
                limit = min(limit, pag.max_page_size)
            offset = 0
            while True:
                anchor = StreamState(self.state.cursor, set(self.state.seen))
                headers = None
                if isinstance(pag, OffsetPagination):
                    position = {pag.limit_param: limit, pag.offset_param: offset}
                elif isinstance(pag, PageNumberPagination):
                    position = {pag.limit_param: limit, pag.page_param: pag.start_page + offset // limit}
                else:
                    position, headers = {}, {pag.header: f"{pag.unit}={offset}-{offset + limit - 1}"}
                params = {**base_params, **self._filter_params(anchor), **position}
                body = await self.conn.api.request_json(req.method, path, params=params, headers=headers,
                                                        json=self._filter_body(json_body, anchor), what=what)
                self.page_requests += 1
                records, n = await self._records_of(body)
                if isinstance(pag, OffsetPagination):
                    total = get_path(body, pag.total_path) if pag.total_path else None
                elif isinstance(pag, RangeHeaderPagination):
                    m = _CONTENT_RANGE.search(self.conn.api.last_response.headers.get("Content-Range", ""))
                    total = int(m.group(3)) if m else None
                else:
                    total = None
                if self.total is None and isinstance(total, int):
                    self.total = total
                page = self._process(records, anchor)
                yield page
                if isinstance(pag, OffsetPagination):
                    last = (isinstance(total, int) and offset + n >= total) or (total is None and n < limit)
                elif isinstance(pag, RangeHeaderPagination):
                    last = offset + n >= total if total is not None else n < limit
                else:  # a short page is the last one: the next page number would repeat it
                    pages = get_path(body, pag.total_pages_path) if pag.total_pages_path else None
                    last = n < limit or (isinstance(pages, int) and offset // limit + 1 >= pages)
                if n == 0 or last:
                    return
                if spec.incremental is not None and self.state.cursor != anchor.cursor:
                    offset = 0  # re-anchor on the advanced cursor
                else:
                    offset += n
            return

        if isinstance(pag, KeysetPagination):
            async for page in self._keyset_pages(pag, path, base_params, json_body):
                yield page
            return

        anchor = StreamState(self.state.cursor, set(self.state.seen))
        params = {**base_params, **self._filter_params(anchor)}
        json_body = self._filter_body(json_body, anchor)
        if isinstance(pag, SearchAfterPagination):
            size = self._page_size(pag.page_size)
            json_body = set_path(json_body or {}, pag.size_field, size)
            while True:
                body = await self.conn.api.request_json(req.method, path, params=params, json=json_body, what=what)
                self.page_requests += 1
                records, n = await self._records_of(body)
                yield self._process(records, anchor)
                after = get_path(body, pag.sort_values_path) if n else None
                if n < size or not isinstance(after, list):
                    return
                json_body = set_path(json_body, pag.search_after_field, after)
        elif isinstance(pag, CursorPagination):
            if pag.limit_param and pag.limit_in_body:
                json_body = set_path(json_body, pag.limit_param, self._page_size(pag.page_size))
            elif pag.limit_param:
                params[pag.limit_param] = self._page_size(pag.page_size)
            token = None
            while True:
                p, j = dict(params), json_body
                if token is not None:
                    if pag.in_body:
                        j = set_path(j, pag.cursor_param, token)
                    else:
                        p[pag.cursor_param] = token
                body = await self.conn.api.request_json(req.method, path, params=p, json=j, what=what)
                self.page_requests += 1
                records, n = await self._records_of(body)
                yield self._process(records, anchor)
                token = get_path(body, pag.next_cursor_path)
                if not token or n == 0:
                    return
                if pag.has_more_path is not None and not get_path(body, pag.has_more_path):
                    return
        elif isinstance(pag, (LinkHeaderPagination, NextUrlPagination)):
            # the next page's URL (Link header or body) carries every query parameter itself
            if pag.limit_param:
                params[pag.limit_param] = self._page_size(pag.page_size)
            url: str | None = path
            first = True
            while url:
                resp: httpx.Response = await self.conn.api.request(
                    req.method, url, params=params if first else None, json=json_body, what=what)
                first = False
                self.page_requests += 1
                body = _json(resp, what)
                records, n = await self._records_of(body)
                yield self._process(records, anchor)
                if isinstance(pag, LinkHeaderPagination):
                    url = resp.links.get("next", {}).get("url")
                else:
                    nxt = get_path(body, pag.next_url_path)
                    url = nxt if isinstance(nxt, str) and nxt else None
                url = self._same_origin(url) if n else None
        else:
            body = await self.conn.api.request_json(req.method, path, params=params, json=json_body, what=what)
            self.page_requests += 1
            records, _ = await self._records_of(body)
            yield self._process(records, anchor)

    def _keyset_total(self, pag: KeysetPagination, body: Any) -> int | None:
        """The query's total, from the body or a header of the response just read (no await since
        the request, so ``last_response`` is still this request's)."""
        if pag.total_path is not None:
            total = get_path(body, pag.total_path)
            return total if isinstance(total, int) else None
        value = self.conn.api.last_response.headers.get(pag.total_header or "")
        return int(value) if value is not None and value.strip().isdigit() else None

    async def _upper_bound(self, pag: KeysetPagination, path: str, base: dict[str, Any], json_body: Any,
                           limit: int) -> Any:
        """The newest cursor value of the records past the checkpoint, read now (one record sorted
        descending, fetched when the query returns ids); None when there are none. When the vendor
        withholds the newest rows after the query (rows the user may not read: an empty answer with
        a total), the next windows of ``limit`` rows are read until a record is returned."""
        spec, inc = self.spec, self.spec.incremental
        assert inc is not None
        anchor = StreamState(self.state.cursor, set(self.state.seen))
        offset, size = 0, 1
        while True:
            params = self._keyset_params(base, anchor, None, sort=pag.descending_sort, limit=size)
            if offset:
                params[pag.offset_param] = offset
            body = await self.conn.api.request_json(spec.request.method, path, params=params, json=json_body,
                                                    what=f"stream {spec.name} upper bound")
            total = self._keyset_total(pag, body)
            if isinstance(total, int) and not offset:
                self.total = total  # everything past the checkpoint: the records this run reads
            newest = get_path(body, spec.record_selector) or []
            if newest or total is None or offset + size >= total:
                break
            offset, size = offset + size, limit
        if newest and spec.hydrate is not None:
            newest = await self._hydrate(newest[:1])
        if not newest:  # nothing past the checkpoint (or the newest was deleted before its fetch:
            return None  # this run reads nothing and the next one starts from the same checkpoint)
        record = self.conn.transform_record(spec.name, newest[0])
        value = get_path(record, inc.cursor_field) if isinstance(record, dict) else None
        if value is None:
            raise PermanentError(f"stream {spec.name}: the newest record has no cursor at {inc.cursor_field!r}")
        return value

    async def _keyset_pages(self, pag: KeysetPagination, path: str, base: dict[str, Any],
                            json_body: Any) -> AsyncIterator[Page]:
        req, what = self.spec.request, f"stream {self.spec.name}"
        limit = self._page_size(pag.page_size)
        if pag.max_page_size:
            limit = min(limit, pag.max_page_size)
        upper = await self._upper_bound(pag, path, base, json_body, limit)
        if upper is None:
            return
        for template, below in ((pag.below_upper_template, True), (pag.upper_bound_template, False)):
            bound = self._render(template, upper=upper)
            # offset > 0 only while the cursor stands still: inside a run of equal cursor values, or
            # past a window whose rows the vendor withheld after the query
            offset, run_total = 0, None
            while True:
                anchor = StreamState(self.state.cursor, set(self.state.seen))
                params = self._keyset_params(base, anchor, bound, sort=pag.ascending_sort, limit=limit)
                params[pag.offset_param] = offset
                body = await self.conn.api.request_json(req.method, path, params=params, json=json_body, what=what)
                self.page_requests += 1
                total = self._keyset_total(pag, body)
                if offset and total != run_total:
                    # a record left (or, at U, joined) the range, so the rows past the offset shifted:
                    # read the run again from its start (ids in ``seen`` are dropped, not published again)
                    offset, run_total = 0, None
                    continue
                records, n = await self._records_of(body)
                yield self._process(records, anchor, upper, below=below)
                # The total, where the vendor gives one, says whether this window of ``limit`` rows
                # reached the end of the range: a short page need not be the last one (ServiceNow
                # drops the rows the user may not read from the window after the query).
                if (offset + limit >= total) if isinstance(total, int) else n < limit:
                    break
                if self.state.cursor != anchor.cursor:
                    offset, run_total = 0, None
                else:  # the next window: rows are counted in windows the vendor read, not rows returned
                    offset, run_total = offset + limit, total


def _json(resp: httpx.Response, what: str) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise PermanentError(f"{what}: response is not JSON") from None
