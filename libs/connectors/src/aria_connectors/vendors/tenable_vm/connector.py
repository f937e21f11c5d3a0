"""Tenable VM: the asynchronous export workflow (Python escape hatch).

Each stream's ``request`` in manifest.yaml is the chunk download
(``GET /vulns/export/{export_uuid}/chunks/{chunk_id}``); this module adds what YAML cannot
say: request the export (``POST /vulns/export`` with filters), poll its status until
``FINISHED`` while downloading every chunk as soon as it is listed in
``chunks_available``, and checkpoint the export's progress (see ``aria_connectors.sdk.sessions``), because
chunks are grouped by asset and are not ordered by the incremental cursor.

Incremental filter: the manifest's ``incremental.filter_param`` (``indexed_at`` for
vulnerabilities, ``updated_at`` for assets) is sent in ``filters`` as Unix seconds, one
second *before* the cursor, so the filter is inclusive whatever the vendor's boundary
semantics; the SDK's tie-break drops what was already published.
"""

from __future__ import annotations

import asyncio
from datetime import timezone
from typing import Any, AsyncIterator

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.streams import Page

from aria_connectors.sdk.sessions import SessionConnector, SessionReader, poll_delay

#: stream -> how its export is requested. Sizes are clamped to the vendor's documented range.
EXPORTS: dict[str, dict[str, Any]] = {
    "vulnerabilities": {
        "create": "/vulns/export",
        "status": "/vulns/export/{export_uuid}/status",
        "size_field": "num_assets", "min": 50, "max": 5000, "default": 500,
        # without a state filter Tenable exports only OPEN and REOPENED findings
        "filters": {"state": ["OPEN", "REOPENED", "FIXED"],
                    "severity": ["info", "low", "medium", "high", "critical"]},
    },
    "assets": {
        "create": "/assets/export",
        "status": "/assets/export/{export_uuid}/status",
        "size_field": "chunk_size", "min": 100, "max": 10000, "default": 1000,
        "filters": {},
    },
}
MAX_POLLS = 720


def _unix(cursor: Any) -> int:
    dt, _ns = cursor_key(cursor, "datetime")
    return int(dt.astimezone(timezone.utc).timestamp())


class ExportReader(SessionReader):
    async def _create(self) -> str:
        cfg = EXPORTS[self.spec.name]
        size = self.conn.options.page_size or cfg["default"]
        filters = dict(cfg["filters"])
        inc = self.spec.incremental
        if inc is not None and self.anchor.cursor is not None:
            filters[inc.filter_param] = max(0, _unix(self.anchor.cursor) - 1)
        body = await self.conn.api.request_json(
            "POST", cfg["create"], json={cfg["size_field"]: max(cfg["min"], min(cfg["max"], size)), "filters": filters},
            what=f"stream {self.spec.name}: export request")
        export_uuid = body.get("export_uuid") if isinstance(body, dict) else None
        if not export_uuid:
            raise PermanentError(f"stream {self.spec.name}: export response has no export_uuid")
        return str(export_uuid)

    async def _status(self, export_uuid: str) -> dict[str, Any] | None:
        path = EXPORTS[self.spec.name]["status"].format(export_uuid=export_uuid)
        return await self.job_status(path, what="export status")  # None: an unknown or expired export

    async def session(self) -> AsyncIterator[Page]:
        name = self.spec.name
        export_uuid = await self.resume_job("export_uuid", self._status, self._create, done=[])
        for attempt in range(MAX_POLLS):
            status = await self._status(export_uuid)
            if status is None:
                raise PermanentError(f"stream {name}: export disappeared while being downloaded")
            state = status.get("status")
            if state in ("CANCELLED", "ERROR"):
                raise PermanentError(f"stream {name}: export ended with status {state}")
            done = set(self.pending["done"])
            fresh = sorted(int(c) for c in status.get("chunks_available") or [] if int(c) not in done)
            for chunk_id in fresh:
                records = await self.conn.api.request_json(
                    "GET", self._render(self.spec.request.path, export_uuid=export_uuid, chunk_id=chunk_id),
                    what=f"stream {name}: chunk {chunk_id}")
                if not isinstance(records, list):
                    raise PermanentError(f"stream {name}: chunk {chunk_id} is not a JSON array")
                self.page_requests += 1
                page = self.process(records)
                done.add(chunk_id)
                self.pending["done"] = sorted(done)
                if state == "FINISHED" and chunk_id == fresh[-1]:
                    self.pending = None  # the last chunk completes the export: the cursor advances
                yield page
            if state == "FINISHED":
                if fresh:
                    return
                self.pending = None
                yield self.empty_page()
                return
            if not fresh:
                await asyncio.sleep(poll_delay(self.conn, attempt))
        raise PermanentError(f"stream {name}: export did not finish after {MAX_POLLS} status polls")


class TenableConnector(SessionConnector):
    reader_classes = {"vulnerabilities": ExportReader, "assets": ExportReader}


__all__ = ["TenableConnector"]
