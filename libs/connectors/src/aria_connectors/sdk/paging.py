"""Pagination kinds: one small component per kind, chosen by the manifest's ``pagination.type``.

Each reads one stream's pages through its ``StreamReader`` (filters, records, hydration, cursor
and mapping stay the reader's: its underscore methods are this module's to call) and takes the vendor's own paging state - an offset, a token, a
next URL, a total - from the response it just received, never from a shared "last response".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, AsyncIterator

import httpx

from ..errors import PermanentError
from .http import decode_json
from .manifest import (
    BodyOffsetPagination,
    CursorPagination,
    KeysetPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    NoPagination,
    OffsetPagination,
    PageNumberPagination,
    RangeHeaderPagination,
    SearchAfterPagination,
)
from .paths import get_path, set_path

if TYPE_CHECKING:
    from .streams import Page, StreamReader

_CONTENT_RANGE = re.compile(r"\s(\d+)-(\d+)/(\d+)")


def record_cursor(record: Any, inc: Any) -> Any:
    """A record's incremental cursor value: ``cursor_field``, else the first set ``cursor_coalesce`` path."""
    if not isinstance(record, dict):
        return None
    value = get_path(record, inc.cursor_field)
    for path in inc.cursor_coalesce:
        if value is not None:
            break
        value = get_path(record, path)
    return value


class Paging:
    """What every kind shares: the stream's request rendered once, and one way to fetch a page."""

    def __init__(self, reader: "StreamReader", spec: Any) -> None:
        self.reader = reader
        self.spec = spec
        req = reader.spec.request
        self.method = req.method
        self.path = reader._render(req.path)
        self.base_params = {**reader._render(req.params), **reader.filters}
        self.json_body = reader._render(req.json_body) if req.json_body is not None else None
        # the request's own headers go with every page (a next-page URL too): a vendor filter header
        # such as Trend Vision One's TMV1-Query / TMV1-Filter must be in every paginated request
        self.headers = {k: str(v) for k, v in reader._render(dict(req.headers)).items()}
        self.what = f"stream {reader.spec.name}"

    def page_size(self, default: int, maximum: int | None = None) -> int:
        size = self.reader.conn.options.page_size or default
        return min(size, maximum) if maximum else size

    async def fetch(self, url: str, *, params: dict[str, Any] | None, json: Any = None,
                    headers: dict[str, str] | None = None, what: str | None = None,
                    page: bool = True) -> tuple[Any, httpx.Response]:
        """(JSON body, response) of one request; ``page`` counts it as a page request."""
        what = what or self.what
        conn, stream = self.reader.conn, self.reader.spec.name
        params, json = conn.page_request(stream, dict(params or {}), json)
        # no parameters at all (not an empty set): a next-page URL keeps the query it carries
        resp = await conn.api.request(self.method, url, params=params or None, json=json,
                                      headers={**self.headers, **(headers or {})} or None, what=what)
        if page:
            self.reader.page_requests += 1
        return conn.page_body(stream, decode_json(resp, what, conn.api.response_prefix)), resp

    def pages(self) -> AsyncIterator["Page"]:  # pragma: no cover - abstract
        raise NotImplementedError


class SinglePage(Paging):
    """``none``: one request is the whole stream."""

    async def pages(self) -> AsyncIterator["Page"]:
        reader = self.reader
        anchor = reader.anchor()
        body, _ = await self.fetch(self.path, params={**self.base_params, **reader._filter_params(anchor)},
                                   json=reader._filter_body(self.json_body, anchor))
        records, _ = await reader._records_of(body)
        yield reader._process(records, anchor)


class WindowPaging(Paging):
    """An offset in some form (``offset``, ``page_number``, ``range_header``). The query is
    re-anchored on every page: the filter uses the cursor reached so far and the window restarts
    at 0 whenever the cursor advanced, so records updated mid-sync cannot shift unread ones below
    the offset and vendor offset ceilings are not hit."""

    def position(self, offset: int, limit: int) -> tuple[dict[str, Any], dict[str, str] | None]:
        raise NotImplementedError

    def total(self, body: Any, resp: httpx.Response) -> int | None:
        return None

    def last(self, body: Any, offset: int, n: int, limit: int, total: int | None) -> bool:
        return offset + n >= total if total is not None else n < limit

    async def pages(self) -> AsyncIterator["Page"]:
        reader = self.reader
        limit = self.page_size(self.spec.page_size, getattr(self.spec, "max_page_size", None))
        offset = 0
        while True:
            anchor = reader.anchor()
            position, headers = self.position(offset, limit)
            body, resp = await self.fetch(self.path, params={**self.base_params, **reader._filter_params(anchor), **position},
                                          headers=headers, json=reader._filter_body(self.json_body, anchor))
            records, n = await reader._records_of(body)
            total = self.total(body, resp)
            if reader.total is None and total is not None:
                reader.total = total
            yield reader._process(records, anchor)
            if n == 0 or self.last(body, offset, n, limit, total):
                return
            offset = 0 if reader.spec.incremental is not None and reader.state.cursor != anchor.cursor else offset + n


class OffsetPaging(WindowPaging):
    spec: OffsetPagination

    def position(self, offset: int, limit: int) -> tuple[dict[str, Any], None]:
        return {self.spec.limit_param: limit, self.spec.offset_param: offset}, None

    def total(self, body: Any, resp: httpx.Response) -> int | None:
        total = get_path(body, self.spec.total_path) if self.spec.total_path else None
        return total if isinstance(total, int) else None


class PageNumberPaging(WindowPaging):
    spec: PageNumberPagination

    def position(self, offset: int, limit: int) -> tuple[dict[str, Any], None]:
        return {self.spec.limit_param: limit, self.spec.page_param: self.spec.start_page + offset // limit}, None

    def last(self, body: Any, offset: int, n: int, limit: int, total: int | None) -> bool:
        # a short page is the last one: the next page number would repeat it
        pages = get_path(body, self.spec.total_pages_path) if self.spec.total_pages_path else None
        return n < limit or (isinstance(pages, int) and offset // limit + 1 >= pages)


class RangeHeaderPaging(WindowPaging):
    """``Range: items=0-49`` out, ``Content-Range: items 0-49/<total>`` back (IBM QRadar)."""

    spec: RangeHeaderPagination

    def position(self, offset: int, limit: int) -> tuple[dict[str, Any], dict[str, str]]:
        return {}, {self.spec.header: f"{self.spec.unit}={offset}-{offset + limit - 1}"}

    def total(self, body: Any, resp: httpx.Response) -> int | None:
        m = _CONTENT_RANGE.search(resp.headers.get("Content-Range", ""))
        return int(m.group(3)) if m else None


class BodyOffsetPaging(WindowPaging):
    """``body_offset``: the window travels in the JSON body of a search request (Cortex XDR
    ``search_from``/``search_to``, Carbon Black Cloud ``start``/``rows``), re-anchored like offsets."""

    spec: BodyOffsetPagination

    def total(self, body: Any, resp: httpx.Response) -> int | None:
        total = get_path(body, self.spec.total_path) if self.spec.total_path else None
        return total if isinstance(total, int) else None

    async def pages(self) -> AsyncIterator["Page"]:
        reader, pag = self.reader, self.spec
        limit = self.page_size(pag.page_size, pag.max_page_size)
        offset = 0
        while True:
            anchor = reader.anchor()
            json_body = set_path(reader._filter_body(self.json_body, anchor), pag.offset_field, pag.first_index + offset)
            if pag.limit_field is not None:
                json_body = set_path(json_body, pag.limit_field, limit)
            else:
                json_body = set_path(json_body, pag.end_field, pag.first_index + offset + limit)  # type: ignore[arg-type]
            body, resp = await self.fetch(self.path, params={**self.base_params, **reader._filter_params(anchor)},
                                          json=json_body)
            records, n = await reader._records_of(body)
            total = self.total(body, resp)
            if reader.total is None and total is not None:
                reader.total = total
            yield reader._process(records, anchor)
            if n == 0 or self.last(body, offset, n, limit, total):
                return
            offset = 0 if reader.spec.incremental is not None and reader.state.cursor != anchor.cursor else offset + n


class KeysetPaging(Paging):
    """Incremental streams over a mutable sorted set (CrowdStrike's id queries, ServiceNow's Table
    API). The run's range is bounded above by the newest cursor value U at its start (records below
    U first, then those at U), so the set being read only shrinks while it runs: a record updated
    mid-sync (or between an id query and its entity fetch) gets a cursor of at least U and is read
    in its new place instead of moving the checkpoint past unread records. Inside a run of equal
    cursor values an offset is unavoidable; a changed total restarts it at 0."""

    spec: KeysetPagination

    def params(self, anchor: Any, bound: str | None, *, sort: str, limit: int) -> dict[str, Any]:
        """The caller's own filter (an ad-hoc query's), the cursor filter and the upper ``bound``
        term joined into one filter, the sort (its own parameter, or the filter's last term) and
        the page size."""
        pag, inc = self.spec, self.reader.spec.incremental
        assert inc is not None
        terms = [self.base_params.get(inc.filter_param), self.reader._filter_value(anchor), bound]
        params = {**self.base_params, pag.limit_param: limit}
        if pag.sort_param:
            params[pag.sort_param] = sort
        else:
            terms.append(sort)
        joined = pag.filter_join.join(str(t) for t in terms if t)
        if joined:
            params[inc.filter_param] = joined
        return params

    def total(self, body: Any, resp: httpx.Response) -> int | None:
        """The query's total, from the body or a header of this response."""
        if self.spec.total_path is not None:
            total = get_path(body, self.spec.total_path)
            return total if isinstance(total, int) else None
        value = resp.headers.get(self.spec.total_header or "")
        return int(value) if value is not None and value.strip().isdigit() else None

    async def upper_bound(self, limit: int) -> Any:
        """The newest cursor value of the records past the checkpoint, read now (one record sorted
        descending, fetched when the query returns ids); None when there are none. When the vendor
        withholds the newest rows after the query (rows the user may not read: an empty answer with
        a total), the next windows of ``limit`` rows are read until a record is returned."""
        reader, pag = self.reader, self.spec
        spec, inc = reader.spec, reader.spec.incremental
        assert inc is not None
        anchor = reader.anchor()
        offset, size = 0, 1
        while True:
            params = self.params(anchor, None, sort=pag.descending_sort, limit=size)
            if offset:
                params[pag.offset_param] = offset
            body, resp = await self.fetch(self.path, params=params, json=self.json_body,
                                          what=f"stream {spec.name} upper bound", page=False)
            total = self.total(body, resp)
            if total is not None and not offset:
                reader.total = total  # everything past the checkpoint: the records this run reads
            newest = get_path(body, spec.record_selector) or []
            if newest or total is None or offset + size >= total:
                break
            offset, size = offset + size, limit
        if newest and spec.hydrate is not None:
            newest = await reader._hydrate(newest[:1])
        if not newest:  # nothing past the checkpoint (or the newest was deleted before its fetch:
            return None  # this run reads nothing and the next one starts from the same checkpoint)
        record = reader.conn.transform_record(spec.name, newest[0])
        value = record_cursor(record, inc)
        if value is None:
            raise PermanentError(f"stream {spec.name}: the newest record has no cursor at {inc.cursor_field!r}")
        return value

    async def pages(self) -> AsyncIterator["Page"]:
        reader, pag = self.reader, self.spec
        limit = self.page_size(pag.page_size, pag.max_page_size)
        upper = await self.upper_bound(limit)
        if upper is None:
            return
        for template, below in ((pag.below_upper_template, True), (pag.upper_bound_template, False)):
            bound = reader._render(template, upper=upper)
            # offset > 0 only while the cursor stands still: inside a run of equal cursor values, or
            # past a window whose rows the vendor withheld after the query
            offset, run_total = 0, None
            while True:
                anchor = reader.anchor()
                params = self.params(anchor, bound, sort=pag.ascending_sort, limit=limit)
                params[pag.offset_param] = offset
                body, resp = await self.fetch(self.path, params=params, json=self.json_body)
                total = self.total(body, resp)
                if offset and total != run_total:
                    # a record left (or, at U, joined) the range, so the rows past the offset shifted:
                    # read the run again from its start (ids in ``seen`` are dropped, not published again)
                    offset, run_total = 0, None
                    continue
                records, n = await reader._records_of(body)
                yield reader._process(records, anchor, upper, below=below)
                # The total, where the vendor gives one, says whether this window of ``limit`` rows
                # reached the end of the range: a short page need not be the last one (ServiceNow
                # drops the rows the user may not read from the window after the query).
                if (offset + limit >= total) if total is not None else n < limit:
                    break
                if reader.state.cursor != anchor.cursor:
                    offset, run_total = 0, None
                else:  # the next window: rows are counted in windows the vendor read, not rows returned
                    offset, run_total = offset + limit, total


class SearchAfterPaging(Paging):
    """The next body carries the last hit's sort values (Elasticsearch); a short page ends it."""

    spec: SearchAfterPagination

    async def pages(self) -> AsyncIterator["Page"]:
        reader, pag = self.reader, self.spec
        anchor = reader.anchor()
        params = {**self.base_params, **reader._filter_params(anchor)}
        size = self.page_size(pag.page_size)
        json_body = set_path(reader._filter_body(self.json_body, anchor) or {}, pag.size_field, size)
        while True:
            body, _ = await self.fetch(self.path, params=params, json=json_body)
            records, n = await reader._records_of(body)
            yield reader._process(records, anchor)
            after = get_path(body, pag.sort_values_path) if n else None
            if n < size or not isinstance(after, list):
                return
            json_body = set_path(json_body, pag.search_after_field, after)


class CursorPaging(Paging):
    """A next-page token from the body, sent back in a query parameter or a body path."""

    spec: CursorPagination

    async def pages(self) -> AsyncIterator["Page"]:
        reader, pag = self.reader, self.spec
        anchor = reader.anchor()
        params = {**self.base_params, **reader._filter_params(anchor)}
        json_body = reader._filter_body(self.json_body, anchor)
        if pag.limit_param and pag.limit_in_body:
            json_body = set_path(json_body, pag.limit_param, self.page_size(pag.page_size))
        elif pag.limit_param:
            params[pag.limit_param] = self.page_size(pag.page_size)
        token = None
        while True:
            p, j = dict(params), json_body
            if token is not None:
                if pag.in_body:
                    j = set_path(j, pag.cursor_param, token)
                else:
                    p[pag.cursor_param] = token
            body, _ = await self.fetch(self.path, params=p, json=j)
            records, n = await reader._records_of(body)
            yield reader._process(records, anchor)
            token = get_path(body, pag.next_cursor_path)
            if not token or n == 0:
                return
            if pag.has_more_path is not None and not get_path(body, pag.has_more_path):
                return


class NextUrlPaging(Paging):
    """The next page's full URL, from the RFC 8288 ``Link`` header (``link_header``) or the body
    (``next_url``: OData ``@odata.nextLink``, ARM ``nextLink``); it carries every query parameter
    itself and must stay on the API's origin."""

    spec: LinkHeaderPagination | NextUrlPagination

    async def pages(self) -> AsyncIterator["Page"]:
        reader, pag = self.reader, self.spec
        anchor = reader.anchor()
        params = {**self.base_params, **reader._filter_params(anchor)}
        json_body = reader._filter_body(self.json_body, anchor)
        if pag.limit_param:
            params[pag.limit_param] = self.page_size(pag.page_size)
        url: str | None = self.path
        first = True
        while url:
            body, resp = await self.fetch(url, params=params if first else None, json=json_body)
            first = False
            records, n = await reader._records_of(body)
            yield reader._process(records, anchor)
            if isinstance(pag, LinkHeaderPagination):
                url = resp.links.get("next", {}).get("url")
            else:
                nxt = get_path(body, pag.next_url_path)
                url = nxt if isinstance(nxt, str) and nxt else None
            url = reader._same_origin(url) if n else None


PAGINGS: dict[type, type[Paging]] = {
    NoPagination: SinglePage,
    OffsetPagination: OffsetPaging,
    PageNumberPagination: PageNumberPaging,
    RangeHeaderPagination: RangeHeaderPaging,
    KeysetPagination: KeysetPaging,
    SearchAfterPagination: SearchAfterPaging,
    CursorPagination: CursorPaging,
    LinkHeaderPagination: NextUrlPaging,
    NextUrlPagination: NextUrlPaging,
    BodyOffsetPagination: BodyOffsetPaging,
}


def paging_for(reader: "StreamReader") -> Paging:
    spec = reader.spec.pagination
    return PAGINGS[type(spec)](reader, spec)


__all__ = ["PAGINGS", "Paging", "paging_for"]
