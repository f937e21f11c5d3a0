"""Listings not ordered by the incremental cursor, followed through next-page URLs.

Some vendors page a listing by an opaque position (Snyk's ``starting_after`` in ``links.next``,
HAL ``_links.next.href``) in an order of their own (ids), while the cursor is a timestamp of the
record. The plain reader moves the checkpoint to the newest cursor of every page read, so a sync
stopped after page 2 would skip the older records of page 3 when resumed. ``NextUrlSessionReader``
is a ``SessionReader``: the checkpoint keeps the run's anchor (the cursor filter it started from)
until the listing ends, with ``pending.next`` - the vendor's URL of the next unread page - so a
resumed run continues there, and only the finished listing moves the cursor to the newest value
read. A next URL the vendor no longer takes (4xx) restarts the listing from the anchor (records of
the earlier pages may then be published again, with the same raw hash)."""

from __future__ import annotations

from typing import Any, AsyncIterator

from ..errors import ConnectorError, PermanentError
from .manifest import BodyOffsetPagination, LinkHeaderPagination, NextUrlPagination
from .paging import BodyOffsetPaging, NextUrlPaging
from .paths import get_path, set_path
from .sessions import SessionReader
from .streams import Page


class NextUrlSessionReader(SessionReader):
    """A ``next_url`` / ``link_header`` stream read as one resumable session (see the module)."""

    async def session(self) -> AsyncIterator[Page]:
        pag = self.spec.pagination
        if not isinstance(pag, (NextUrlPagination, LinkHeaderPagination)):
            raise PermanentError(f"stream {self.spec.name}: a next-URL session needs next_url or link_header paging")
        paging = NextUrlPaging(self, pag)
        url = (self.pending or {}).get("next")
        resumed = url is not None
        while True:
            if url is None:  # the listing's first page, filtered from the anchor
                params = {**paging.base_params, **self._filter_params(self.anchor)}
                if pag.limit_param:
                    params[pag.limit_param] = paging.page_size(pag.page_size)
                body, resp = await paging.fetch(paging.path, params=params,
                                                json=self._filter_body(paging.json_body, self.anchor))
            else:
                try:
                    body, resp = await paging.fetch(self._same_origin(url), params=None, json=paging.json_body)
                except ConnectorError as exc:
                    if not resumed or exc.status_code is None or not 400 <= exc.status_code < 500 \
                            or exc.status_code in (401, 403, 429):
                        raise
                    self.restart()  # the vendor forgot the position: read the listing again
                    url, resumed = None, False
                    continue
            resumed = False
            records, n = await self._records_of(body)
            if isinstance(pag, LinkHeaderPagination):
                nxt: Any = resp.links.get("next", {}).get("url")
            else:
                nxt = get_path(body, pag.next_url_path)
            url = nxt if isinstance(nxt, str) and nxt and n else None
            self.pending = {"next": url} if url else None
            yield self.process(records)
            if url is None:
                return


class BodyOffsetSessionReader(SessionReader):
    """A ``body_offset`` search read as one resumable session, for a search whose answer is not
    ordered by the cursor (Symantec Endpoint Security's incident search): the filter stays on the
    run's anchor, the offset walks the whole result, and ``pending`` keeps the next offset plus the
    body values pinned for the session (``session_body``: e.g. the search window's end, so the
    result does not grow under the offsets), so a resumed run continues the same search. The
    cursor moves to the newest value read when the search is finished."""

    def session_body(self, body: Any) -> dict[str, Any]:
        """Body values (dotted paths) fixed for one session, chosen on its first page from the
        anchored request body; none by default."""
        return {}

    async def session(self) -> AsyncIterator[Page]:
        pag = self.spec.pagination
        if not isinstance(pag, BodyOffsetPagination):
            raise PermanentError(f"stream {self.spec.name}: a body-offset session needs body_offset paging")
        paging = BodyOffsetPaging(self, pag)
        limit = paging.page_size(pag.page_size, pag.max_page_size)
        base = self._filter_body(paging.json_body, self.anchor)
        pending = self.pending or {}
        offset = int(pending.get("offset") or 0)
        pinned = pending.get("body")
        if not isinstance(pinned, dict):
            pinned = self.session_body(base)
        for path, value in pinned.items():
            base = set_path(base, path, value)
        while True:
            body_json = set_path(base, pag.offset_field, pag.first_index + offset)
            if pag.limit_field is not None:
                body_json = set_path(body_json, pag.limit_field, limit)
            else:
                body_json = set_path(body_json, pag.end_field, pag.first_index + offset + limit)  # type: ignore[arg-type]
            body, resp = await paging.fetch(paging.path, params={**paging.base_params, **self._filter_params(self.anchor)},
                                            json=body_json)
            records, n = await self._records_of(body)
            total = paging.total(body, resp)
            if self.total is None and total is not None:
                self.total = total
            if pag.next_offset_path:  # the vendor says where the next page starts, and that there is one
                nxt = get_path(body, pag.next_offset_path)
                done = n == 0 or not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= offset
                offset = nxt if not done else offset + n
            else:
                done = n == 0 or paging.last(body, offset, n, limit, total)
                offset += n
            self.pending = None if done else {"offset": offset, "body": pinned}
            yield self.process(records)
            if done:
                return
