"""Trellix ePolicy Orchestrator: what its manifest cannot say.

* ``core.executeQuery`` has no offset parameter: a page is ``(select (top n) ...)``. The SDK's
  offset paging re-anchors every page on the AutoID reached so far (``where (ge EPOEvents.AutoID
  <cursor>)``, ascending), so its offset is 0 whenever the cursor advanced; when it is not (a page
  of events without AutoID), ``page_request`` asks for ``top offset + n`` and ``page_body`` drops
  the first ``offset`` rows.
* ``system.find`` answers the whole System Tree at once, in no time order, and has no time filter:
  ``SystemsReader`` sorts the answer by the agent's last communication (``EPOLeafNode.LastUpdate``,
  systems without one first) and publishes it in batches of the page size, so a run stopped after a
  batch resumes behind what it published (the client-side cursor drops the rest).
* ``transform_record`` (the raw hash is taken before it): ePO writes an absent value as ``""``
  (dropped); ``aria_ip_addresses`` holds the system's IPv4 - ``EPOComputerProperties.IPV4x`` is the
  address as a signed 32-bit integer offset by 2**31 (ePO's encoding; ``IPAddress`` when given) -
  and its IPv6 unless it is the unspecified ``0:0:0:0:0:0:0:0``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from typing import AsyncIterator

from aria_connectors.errors import PermanentError
from aria_connectors.sdk import DeclarativeConnector
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.paging import record_cursor
from aria_connectors.sdk.streams import Page, StreamReader, StreamState

SELECT_HEAD = "(select "


def ipv4_of(value: Any) -> str | None:
    """ePO's IPV4x column: the IPv4 address as a signed integer, address - 2**31."""
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    return str(ipaddress.IPv4Address((value + 2**31) & 0xFFFFFFFF))


def _ip(text: Any) -> str | None:
    try:
        addr = ipaddress.ip_address(str(text).strip())
    except ValueError:
        return None
    if addr.is_unspecified:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


class SystemsReader(StreamReader):
    """One system.find call, published in cursor order a batch at a time (see the module)."""

    async def pages(self) -> AsyncIterator[Page]:
        spec, conn = self.spec, self.conn
        anchor = StreamState(self.state.cursor, set(self.state.seen))
        params = {**self._render(dict(spec.request.params)), **self.filters}
        body = await conn.api.request_json(spec.request.method, self._render(spec.request.path), params=params,
                                           what=f"stream {spec.name}")
        if not isinstance(body, list):
            raise PermanentError(f"stream {spec.name}: system.find answered no list")
        inc = spec.incremental

        def order(record: Any) -> tuple:
            value = record_cursor(self.conn.transform_record(spec.name, record), inc) if inc else None
            try:
                return (0, ()) if value is None else (1, cursor_key(value, inc.cursor_type))
            except Exception:  # an unreadable cursor: the mapping reports the record
                return (0, ())
        records = sorted(body, key=order)
        self.total = len(records)
        size = conn.options.page_size or 500
        for start in range(0, len(records), size):
            chunk = records[start:start + size]
            self.records_read += len(chunk)
            self.page_requests += 1  # a batch counts as a page (preview reads two)
            yield self._process(chunk, anchor)


class TrellixEpoConnector(DeclarativeConnector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._skip: dict[str, int] = {}

    def stream_reader(self, spec: Any, state: dict[str, Any] | None, job_id: Any) -> StreamReader:
        if spec.name == "systems":
            return SystemsReader(self, spec, state, job_id)
        return super().stream_reader(spec, state, job_id)

    def page_request(self, stream: str, params: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if stream != "events":
            return params, body
        params = dict(params)
        offset = int(params.pop("aria_offset", 0) or 0)
        top = int(params.pop("aria_top", 500) or 500) + offset
        select = str(params.get("select", "")).strip()
        if select.startswith(SELECT_HEAD):
            params["select"] = f"{SELECT_HEAD}(top {top}) {select[len(SELECT_HEAD):]}"
        self._skip[stream] = offset
        return params, body

    def page_body(self, stream: str, body: Any) -> Any:
        skip = self._skip.pop(stream, 0)
        return body[skip:] if skip and isinstance(body, list) else body

    def transform_record(self, stream: str, record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        rec = {k: v for k, v in record.items() if v != ""}
        if stream == "systems":
            ips = [_ip(rec.get("EPOComputerProperties.IPAddress")) or ipv4_of(rec.get("EPOComputerProperties.IPV4x")),
                   _ip(rec.get("EPOComputerProperties.IPV6"))]
            rec["aria_ip_addresses"] = list(dict.fromkeys(ip for ip in ips if ip))
        return rec
