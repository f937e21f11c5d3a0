"""Kaspersky Security Center: what its manifest cannot say.

* Lists are server-side result sets: ``HostGroup.FindHosts`` (filter, fields, order, lifetime)
  answers ``{strAccessor, PxgRetVal: <records found>}``, and ``ChunkAccessor.GetItemsChunk``
  (``strAccessor``, ``nStart``, ``nCount``) answers ``{pChunk: {KLCSP_ITERATOR_ARRAY: [{type:
  "params", value: {...}}]}, PxgRetVal: <records in the chunk>}``. ``HostsReader`` is a
  ``SessionReader``: one accessor per run, filtered on the checkpoint and ordered by last visible
  time; ``pending`` keeps the accessor, the next position and the count, so a resumed run reads on
  where it stopped. An accessor the server no longer knows (its ``lMaxLifeTime`` passed, or the
  session ended) is answered with a ``PxgError``: the run then starts a new result set from the
  checkpoint (records of the old one may come again, with the same raw hash).
* ``transform_record`` (the raw hash is taken before it): ``aria_os_version`` (the OS build number
  as text) and ``aria_fqdn`` (DNS name + DNS domain when KSC gives no ``KLHST_WKS_FQDN``).
"""

from __future__ import annotations

import copy
from typing import Any, AsyncIterator

from aria_connectors.errors import ConnectorError, PermanentError
from aria_connectors.sdk.paths import get_path
from aria_connectors.sdk.sessions import SessionConnector, SessionReader
from aria_connectors.sdk.streams import Page

CHUNK_PATH = "/api/v1.0/ChunkAccessor.GetItemsChunk"
#: records a GetItemsChunk call asks for (the KSC samples read 100 - 500 a chunk)
CHUNK_SIZE = 500


class HostsReader(SessionReader):
    """FindHosts once per session, then its accessor chunk by chunk (see the module)."""

    async def _open(self) -> dict[str, Any]:
        spec, conn = self.spec, self.conn
        body = self._filter_body(copy.deepcopy(self._render(spec.request.json_body)), self.anchor)
        for key, value in self.filters.items():  # query(): a vendor filter of the caller's
            body[key] = value
        found = await conn.api.request_json(spec.request.method, self._render(spec.request.path), json=body,
                                            what=f"stream {spec.name}: find")
        self.page_requests += 1
        accessor, count = get_path(found, "strAccessor"), get_path(found, "PxgRetVal")
        if not isinstance(accessor, str) or not accessor:
            raise PermanentError(f"stream {spec.name}: FindHosts answered no strAccessor")
        return {"accessor": accessor, "start": 0, "count": count if isinstance(count, int) else None}

    async def _chunk(self, accessor: str, start: int, size: int) -> Any:
        return await self.conn.api.request_json("POST", CHUNK_PATH, json={"strAccessor": accessor, "nStart": start,
                                                                          "nCount": size},
                                                what=f"stream {self.spec.name}: chunk")

    async def session(self) -> AsyncIterator[Page]:
        size = self.conn.options.page_size or CHUNK_SIZE
        resumed = self.pending is not None
        while True:
            if self.pending is None:
                self.pending = await self._open()
            pending = self.pending
            if self.total is None and pending.get("count") is not None:
                self.total = int(pending["count"]) - int(pending["start"])
            try:
                body = await self._chunk(str(pending["accessor"]), int(pending["start"]), size)
            except ConnectorError as exc:
                if not resumed or exc.error_class != "permanent":
                    raise
                self.restart()  # the server forgot the accessor: a new result set from the anchor
                resumed = False
                continue
            resumed = False
            self.page_requests += 1
            records, n = await self._records_of(body)
            start = int(pending["start"]) + n
            count = pending.get("count")
            done = n == 0 or (start >= count if isinstance(count, int) else n < size)
            self.pending = None if done else {**pending, "start": start}
            yield self.process(records)
            if done:
                return


class KasperskySecurityCenterConnector(SessionConnector):
    reader_classes = {"hosts": HostsReader}

    def transform_record(self, stream: str, record: Any) -> Any:
        if not isinstance(record, dict) or not isinstance(record.get("value"), dict):
            return record
        rec = dict(record)
        value = rec["value"]
        build = value.get("KLHST_WKS_OS_BUILD_NUMBER")
        if isinstance(build, int) and not isinstance(build, bool) and build > 0:
            rec["aria_os_version"] = str(build)
        name, domain = value.get("KLHST_WKS_DNSNAME"), value.get("KLHST_WKS_DNSDOMAIN")
        if isinstance(name, str) and name and "." not in name and isinstance(domain, str) and domain:
            rec["aria_fqdn"] = f"{name}.{domain}"
        return rec
