"""Splunk: asynchronous search jobs (Python escape hatch).

The stream's ``request`` in manifest.yaml is the result paging
(``GET /services/search/jobs/{sid}/results?output_mode=json&offset=&count=``); this
module creates the job (``POST /services/search/jobs``, form-encoded: ``search``,
``earliest_time``, ``latest_time``, ``output_mode=json``), polls
``GET /services/search/jobs/{sid}`` until ``dispatchState`` is ``DONE`` (``FAILED`` is a
permanent error) and pages the results. Results are not in cursor order (Splunk returns
newest first), so the job is a session (``aria_connectors.sdk.sessions``): a checkpoint taken mid-job resumes
the same ``sid`` at the next offset; an expired job (404) is searched again.

Incremental: ``earliest_time`` is the cursor (``_time``) in epoch seconds, rounded down,
so the window is inclusive; ``latest_time`` is ``now`` fixed when the job is created.
"""

from __future__ import annotations

from datetime import timezone
from typing import Any, AsyncIterator

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.streams import Page

from aria_connectors.sdk.sessions import SessionConnector, SessionReader

JOBS_PATH = "/services/search/jobs"
STATUS_PATH = "/services/search/jobs/{sid}"
DEFAULT_COUNT = 1000


class SearchJobReader(SessionReader):
    async def _create(self) -> str:
        search = str(self.conn.settings.get("search") or "search `notable`").strip()
        if not search.startswith(("search ", "|")):
            search = "search " + search
        form: dict[str, Any] = {"search": search, "output_mode": "json", "exec_mode": "normal",
                                "latest_time": "now"}
        earliest = str(self.conn.settings.get("initial_earliest_time") or "-30d@d")
        if self.anchor.cursor is not None:
            dt, _ = cursor_key(self.anchor.cursor, "datetime")
            earliest = str(int(dt.astimezone(timezone.utc).timestamp()))
        form["earliest_time"] = earliest
        what = f"stream {self.spec.name}: create search job"
        resp = await self.conn.api.request("POST", JOBS_PATH, data=form, what=what)
        try:
            sid = resp.json().get("sid")
        except (ValueError, AttributeError):
            sid = None
        if not sid:
            raise PermanentError(f"{what}: response has no sid")
        return str(sid)

    async def _status(self, sid: str) -> dict[str, Any] | None:
        body = await self.job_status(STATUS_PATH.format(sid=sid), params={"output_mode": "json"},
                                     what="search job status")
        if body is None:
            return None
        try:
            return body["entry"][0]["content"]
        except (KeyError, IndexError, TypeError):
            raise PermanentError(f"stream {self.spec.name}: search job status has no entry content") from None

    def _finished(self, content: dict[str, Any]) -> bool:
        state = content.get("dispatchState")
        if state == "FAILED" or content.get("isFailed"):
            raise PermanentError(f"stream {self.spec.name}: search job failed: {content.get('messages') or state}")
        return state == "DONE" or bool(content.get("isDone"))

    async def session(self) -> AsyncIterator[Page]:
        name = self.spec.name
        sid = await self.resume_job("sid", self._status, self._create, offset=0)
        await self.wait_for_job(sid, self._status, self._finished)
        count = self.conn.options.page_size or DEFAULT_COUNT
        base = dict(self._render(self.spec.request.params))
        path = self._render(self.spec.request.path, sid=sid)
        while True:
            offset = int(self.pending["offset"])
            body = await self.conn.api.request_json("GET", path, params={**base, "offset": offset, "count": count},
                                                    what=f"stream {name}: results")
            self.page_requests += 1
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                raise PermanentError(f"stream {name}: results response has no results list")
            done = len(results) < count
            self.pending["offset"] = offset + len(results)
            if done:
                self.pending = None
            yield self.process(results)
            if done:
                return


class SplunkConnector(SessionConnector):
    reader_classes = {"notables": SearchJobReader}
