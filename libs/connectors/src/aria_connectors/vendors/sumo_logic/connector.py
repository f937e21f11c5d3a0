"""Sumo Logic: search jobs and client-filtered collector listing (Python escape hatch).

* ``messages``: the stream's ``request`` in manifest.yaml pages a job's messages
  (``GET /api/v1/search/jobs/{job_id}/messages?offset=&limit=``); this module creates the
  job (``POST /api/v1/search/jobs`` with ``query``, ``from``/``to`` in epoch milliseconds,
  ``timeZone``, ``byReceiptTime``), polls ``GET /api/v1/search/jobs/{job_id}`` until
  ``state`` is ``DONE GATHERING RESULTS`` (``CANCELLED`` is a permanent error), pages all
  ``messageCount`` messages and deletes the job. Messages are not in cursor order, so the
  job is a session (``aria_connectors.sdk.sessions``); the cursor is ``map._messagetime`` and ``from`` is
  inclusive.
* ``collectors``: ``GET /api/v1/collectors?offset=&limit=`` has no time filter and is not
  ordered by ``lastSeenAlive``, so the whole listing is a session filtered client-side
  against the checkpoint (a collector is published again when ``lastSeenAlive`` moved).

Sumo's search job API is cookie-based (``JSESSIONID`` / ``AWSELB``): the shared HTTP
client keeps the cookies the job creation sets.
"""

from __future__ import annotations

import time
from typing import Any, AsyncIterator

from aria_connectors.errors import ConnectorError, PermanentError
from aria_connectors.sdk.streams import Page

from aria_connectors.sdk.sessions import SessionConnector, SessionReader

JOBS_PATH = "/api/v1/search/jobs"
JOB_PATH = "/api/v1/search/jobs/{job_id}"
DEFAULT_LIMIT = 10000  # the messages endpoint's maximum


class SearchJobReader(SessionReader):
    async def _create(self) -> str:
        settings = self.conn.settings
        now_ms = int(time.time() * 1000)
        if self.anchor.cursor is not None:
            start = int(float(self.anchor.cursor))
        else:
            start = now_ms - int(float(settings.get("initial_lookback_hours") or 24) * 3600 * 1000)
        body = {"query": settings.get("query") or "_sourceCategory=security/alerts | json auto",
                "from": start, "to": now_ms, "timeZone": "UTC", "byReceiptTime": False}
        resp = await self.conn.api.request_json("POST", JOBS_PATH, json=body,
                                                what=f"stream {self.spec.name}: create search job")
        job_id = resp.get("id") if isinstance(resp, dict) else None
        if not job_id:
            raise PermanentError(f"stream {self.spec.name}: search job response has no id")
        return str(job_id)

    async def _status(self, job_id: str) -> dict[str, Any] | None:
        return await self.job_status(JOB_PATH.format(job_id=job_id), what="search job status")

    async def _delete(self, job_id: str) -> None:
        try:
            await self.conn.api.request("DELETE", JOB_PATH.format(job_id=job_id),
                                        what=f"stream {self.spec.name}: delete search job")
        except ConnectorError:
            pass  # jobs expire on their own after a few minutes without requests

    def _finished(self, status: dict[str, Any]) -> bool:
        if status.get("state") == "CANCELLED":
            raise PermanentError(f"stream {self.spec.name}: search job was cancelled: {status.get('pendingErrors')}")
        return status.get("state") == "DONE GATHERING RESULTS"

    async def session(self) -> AsyncIterator[Page]:
        name = self.spec.name
        job_id = await self.resume_job("job_id", self._status, self._create, offset=0)
        status = await self.wait_for_job(job_id, self._status, self._finished)
        total = int(status.get("messageCount") or 0)
        limit = min(DEFAULT_LIMIT, self.conn.options.page_size or DEFAULT_LIMIT)
        path = self._render(self.spec.request.path, job_id=job_id)
        while True:
            offset = int(self.pending["offset"])
            if offset >= total:
                self.pending = None
                await self._delete(job_id)
                yield self.empty_page()
                return
            body = await self.conn.api.request_json("GET", path, params={"offset": offset, "limit": limit},
                                                    what=f"stream {name}: messages")
            self.page_requests += 1
            messages = body.get("messages") if isinstance(body, dict) else None
            if not isinstance(messages, list):
                raise PermanentError(f"stream {name}: messages response has no messages list")
            self.pending["offset"] = offset + len(messages)
            last = not messages or self.pending["offset"] >= total
            if last:
                self.pending = None
            yield self.process(messages)
            if last:
                await self._delete(job_id)
                return


class ListingReader(SessionReader):
    """Offset/limit listing without server-side filter or order: a client-filtered session."""

    async def session(self) -> AsyncIterator[Page]:
        req = self.spec.request
        base = self._render(req.params)
        path = self._render(req.path)
        limit = self.conn.options.page_size or 1000
        if self.pending is None:
            self.pending = {"offset": 0}
        while True:
            offset = int(self.pending["offset"])
            body = await self.conn.api.request_json(req.method, path, params={**base, "offset": offset, "limit": limit},
                                                    what=f"stream {self.spec.name}")
            self.page_requests += 1
            items = body.get(self.spec.record_selector) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise PermanentError(f"stream {self.spec.name}: no list at {self.spec.record_selector!r}")
            self.pending["offset"] = offset + len(items)
            last = len(items) < limit
            if last:
                self.pending = None
            yield self.process(items)
            if last:
                return


class SumoLogicConnector(SessionConnector):
    reader_classes = {"messages": SearchJobReader, "collectors": ListingReader}


__all__ = ["SumoLogicConnector"]
