"""Trend Vision One: the vendor quirks the manifest cannot say, as named hooks.

* ``transform_record`` (alerts): ``aria_status`` from ``status`` (Open / In Progress / Closed) and
  ``investigationResult`` (a closed alert with No Findings or False Positive was dismissed: closed;
  any other result: resolved), or from the older ``investigationStatus`` (New, In Progress, True
  Positive, Benign True Positive, False Positive, Closed); ``aria_agent_guid`` the first impacted host's
  agent GUID in lower case (Workbench writes it upper-case, the endpoint inventory lower-case);
  ``aria_techniques`` the matched ATT&CK ids without Trend's ATT&CK-version prefix (``V9.T1112``), in
  order and once, ``aria_technique`` the first.
* ``transform_record`` (endpoints): ``aria_updated`` the newest ``updatedDateTime`` of the endpoint's
  value-wrapped fields (name, IPs, MACs, login accounts), the change time the cursor follows;
  ``aria_macs`` the 6-octet MAC addresses (Trend also reports EUI-64 values such as
  ``00:00:00:00:00:00:00:e0``, kept in the ``mac_values`` attribute).
* ``stream_reader`` (endpoints): neither inventory API filters or sorts on a time, so the inventory is
  read as one session (``sdk.sessions``) following ``nextLink`` - the checkpoint keeps the next page's
  URL, and the anchor moves only when the session completes - and filtered client-side. A stored next
  link Trend no longer accepts (400/404) restarts the session from the anchor.

The raw hash is taken before these hooks, from the record as sent.
"""

from __future__ import annotations

import re
from typing import Any, AsyncIterator

from aria_connectors.errors import ConnectorError, PermanentError
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.paths import get_path
from aria_connectors.sdk.sessions import SessionConnector, SessionReader
from aria_connectors.sdk.streams import Page

_TECHNIQUE = re.compile(r"^(?:V\d+\.)?(T\d{4}(?:\.\d{3})?)$")
_MAC = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
_DISMISSED = {"No Findings", "False Positive"}
_LEGACY = {"New": "new", "In Progress": "in_progress", "True Positive": "resolved",
           "Benign True Positive": "resolved", "False Positive": "closed", "Closed": "closed"}


def alert_status(record: dict[str, Any]) -> str | None:
    status = record.get("status")
    if status == "Open":
        return "new"
    if status == "In Progress":
        return "in_progress"
    if status == "Closed":
        return "closed" if record.get("investigationResult") in _DISMISSED else "resolved"
    return _LEGACY.get(record.get("investigationStatus"), None) if status is None else None


def techniques(record: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for rule in record.get("matchedRules") or []:
        for flt in (rule or {}).get("matchedFilters") or []:
            for raw in (flt or {}).get("mitreTechniqueIds") or []:
                m = _TECHNIQUE.match(str(raw))
                if m and m.group(1) not in found:
                    found.append(m.group(1))
    return found


def first_host_guid(record: dict[str, Any]) -> str | None:
    for entity in get_path(record, "impactScope.entities") or []:
        if isinstance(entity, dict) and entity.get("entityType") == "host":
            guid = get_path(entity, "entityValue.guid") or entity.get("entityId")
            if isinstance(guid, str) and guid:
                return guid.lower()
    return None


def newest_update(record: dict[str, Any]) -> str | None:
    times = [get_path(record, f"{name}.updatedDateTime") for name in ("endpointName", "ip", "macAddress", "loginAccount")]
    times = [t for t in times if isinstance(t, str) and t]
    return max(times, key=lambda t: cursor_key(t, "datetime")) if times else None


class EndpointSession(SessionReader):
    """The inventory as one session over ``nextLink``: ``pending`` holds the next page's URL."""

    async def session(self) -> AsyncIterator[Page]:
        req, pag = self.spec.request, self.spec.pagination
        headers = {k: str(v) for k, v in self._render(dict(req.headers)).items()}
        first = self._render(req.path)
        params = {**self._render(req.params), getattr(pag, "limit_param", None) or "top":
                  self.conn.options.page_size or getattr(pag, "page_size", 200)}
        url = first if self.pending is None else str(self.pending["next"])
        while True:
            resumed = url != first
            try:
                body = await self.conn.api.request_json(req.method, url, params=None if resumed else params,
                                                        headers=headers, what=f"stream {self.spec.name}")
            except ConnectorError as exc:
                if resumed and exc.status_code in (400, 404, 410):
                    self.restart()  # Trend no longer knows the stored page: start over from the anchor
                    url = first
                    continue
                raise
            self.page_requests += 1
            items = get_path(body, self.spec.record_selector) if isinstance(body, dict) else None
            if not isinstance(items, list):
                raise PermanentError(f"stream {self.spec.name}: no list at {self.spec.record_selector!r}")
            self.records_read += len(items)
            nxt = body.get(getattr(pag, "next_url_path", "nextLink"))
            nxt = self._same_origin(nxt) if isinstance(nxt, str) and nxt and items else None
            self.pending = {"next": nxt} if nxt else None
            yield self.process(items)
            if not nxt:
                return
            url = nxt


class TrendVisionOneConnector(SessionConnector):
    reader_classes = {"endpoints": EndpointSession}

    def transform_record(self, stream: str, record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        if stream == "alerts":
            found = techniques(record)
            return {**record, "aria_status": alert_status(record), "aria_agent_guid": first_host_guid(record),
                    "aria_techniques": found, "aria_technique": found[0] if found else None}
        macs = get_path(record, "macAddress.value")
        return {**record, "aria_updated": newest_update(record),
                "aria_macs": [m for m in macs if isinstance(m, str) and _MAC.match(m)] if isinstance(macs, list) else []}


__all__ = ["TrendVisionOneConnector"]
