"""IBM QRadar: ``Range`` header paging (Python escape hatch).

QRadar pages list endpoints with a request header ``Range: items=<first>-<last>`` (both
inclusive, zero-based) and answers ``Content-Range: items <first>-<last>/<total>``; the SDK's
offset pagination only knows query parameters, so this reader sends the header. Offenses
are requested sorted by ``+last_updated_time`` and filtered with
``last_updated_time >= <cursor>`` (epoch milliseconds), so the SDK's re-anchoring offset
logic applies unchanged: each page re-filters on the cursor reached so far and the range
restarts at 0 whenever the cursor advanced.
"""

from __future__ import annotations

import re
from typing import AsyncIterator

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.streams import Page, StreamReader, StreamState

from aria_connectors.sdk.sessions import SessionConnector

_CONTENT_RANGE = re.compile(r"items\s+(\d+)-(\d+)/(\d+)")
DEFAULT_PAGE = 50


class RangeReader(StreamReader):
    async def pages(self) -> AsyncIterator[Page]:
        spec = self.spec
        req = spec.request
        base = self._render(req.params)
        path = self._render(req.path)
        limit = self.conn.options.page_size or DEFAULT_PAGE
        offset = 0
        while True:
            anchor = StreamState(self.state.cursor, set(self.state.seen))
            params = {**base, **self._filter_params(anchor)}
            resp = await self.conn.api.request(req.method, path, params=params,
                                               headers={"Range": f"items={offset}-{offset + limit - 1}"},
                                               what=f"stream {spec.name}")
            self.page_requests += 1
            try:
                body = resp.json()
            except ValueError:
                raise PermanentError(f"stream {spec.name}: response is not JSON") from None
            if not isinstance(body, list):
                raise PermanentError(f"stream {spec.name}: response is not a JSON array")
            yield self._process([self.conn.transform_record(spec.name, r) for r in body], anchor)
            n = len(body)
            m = _CONTENT_RANGE.search(resp.headers.get("Content-Range", ""))
            total = int(m.group(3)) if m else None
            if n == 0 or (total is not None and offset + n >= total) or (total is None and n < limit):
                return
            if spec.incremental is not None and self.state.cursor != anchor.cursor:
                offset = 0  # re-anchor on the advanced cursor
            else:
                offset += n


class QRadarConnector(SessionConnector):
    reader_classes = {"offenses": RangeReader}


__all__ = ["QRadarConnector", "RangeReader"]
