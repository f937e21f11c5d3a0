"""Qualys VMDR: XML responses and truncation paging (Python escape hatch).

* Responses are XML (``HOST_LIST_VM_DETECTION_OUTPUT``, ``HOST_LIST_OUTPUT``,
  ``KNOWLEDGE_BASE_VULN_LIST_OUTPUT``, errors as ``SIMPLE_RETURN``); ``xml_to_dict`` turns
  an element into a dict keyed by the vendor's own element names (``*_LIST`` containers
  become lists, leaves become strings, attributes are kept under ``@name``).
* Paging: hosts come sorted by host ID; a truncated response ends with
  ``<WARNING><CODE>1980</CODE><URL>...id_min=N...</URL></WARNING>``. Pages are not ordered
  by the cursor, so the listing is a session (``aria_connectors.sdk.sessions``): a checkpoint taken mid-listing
  resumes at the same ``id_min``.
* Records: one per ``DETECTION``, with its ``HOST`` (minus the detection list) and the
  QID's KnowledgeBase entry (``KB``: title, CVEs, CVSS) fetched per page from
  ``/api/2.0/fo/knowledge_base/vuln/?action=list&ids=...`` - a detection alone carries
  no title. Host records come from the Host List API.
* Incremental: ``vm_processed_after`` (detections) and ``vm_scan_since`` (hosts), sent one
  second before the cursor (Qualys timestamps have second precision).
* Rate limits: Qualys answers an exhausted budget or concurrency limit with **409**
  (codes 1965/1960) and ``X-RateLimit-ToWait-Sec``; the SDK retries only 429, so 409s
  are waited out here.
"""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from datetime import timedelta, timezone
from typing import Any, AsyncIterator
from urllib.parse import parse_qs, urlparse

import httpx

from aria_connectors.errors import ConnectorError, PermanentError, TransientError
from aria_connectors.sdk import HealthStatus
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.streams import Page

from aria_connectors.sdk.sessions import SessionConnector, SessionReader

KB_PATH = "/api/2.0/fo/knowledge_base/vuln/"
KB_BATCH = 500


def xml_to_dict(elem: ET.Element) -> Any:
    children = list(elem)
    if not children:
        text = (elem.text or "").strip()
        if elem.attrib:
            return {**{f"@{k}": v for k, v in elem.attrib.items()}, "#text": text}
        return text
    if elem.tag.endswith("_LIST"):
        return [xml_to_dict(c) for c in children]
    out: dict[str, Any] = {f"@{k}": v for k, v in elem.attrib.items()}
    for c in children:
        out[c.tag] = xml_to_dict(c)
    return out


def parse_xml(resp: httpx.Response, what: str) -> ET.Element:
    try:
        return ET.fromstring(resp.content)
    except ET.ParseError:
        raise PermanentError(f"{what}: response is not XML") from None


def simple_return_text(resp: httpx.Response) -> str:
    try:
        root = ET.fromstring(resp.content)
    except ET.ParseError:
        return resp.reason_phrase or ""
    code, text = root.findtext("RESPONSE/CODE"), root.findtext("RESPONSE/TEXT")
    return f"{code}: {text}" if code else (text or "")


def qualys_datetime(cursor: Any, minus_seconds: int = 1) -> str:
    dt, _ = cursor_key(cursor, "datetime")
    return (dt.astimezone(timezone.utc) - timedelta(seconds=minus_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class QualysReader(SessionReader):
    """Host-ID ordered, truncated XML listing; subclasses turn a response into records."""

    list_path = "RESPONSE/HOST_LIST"

    async def get_xml(self, path: str, params: dict[str, Any], what: str) -> ET.Element:
        attempt = 0
        while True:
            try:
                resp = await self.conn.api.request("GET", path, params=params, what=what)
            except ConnectorError as exc:
                last = self.conn.api.last_response
                if exc.status_code == 409 and last is not None and attempt < self.conn.retry.max_retries:
                    wait = float(last.headers.get("X-RateLimit-ToWait-Sec") or self.conn.retry.backoff(attempt))
                    if wait <= self.conn.retry.max_retry_after:
                        attempt += 1
                        await asyncio.sleep(wait)
                        continue
                if exc.status_code == 409:
                    raise TransientError(f"{what}: Qualys rate or concurrency limit (HTTP 409): "
                                         f"{simple_return_text(last) if last is not None else ''}", status_code=409) from None
                if last is not None and exc.status_code is not None and exc.status_code >= 400:
                    exc.message = f"{exc.message} {simple_return_text(last)}".strip()
                raise
            root = parse_xml(resp, what)
            if root.tag == "SIMPLE_RETURN":
                raise PermanentError(f"{what}: {simple_return_text(resp)}")
            return root

    def params(self) -> dict[str, Any]:
        params = dict(self._render(self.spec.request.params))
        params["truncation_limit"] = self.conn.options.page_size or params.get("truncation_limit") or 1000
        inc = self.spec.incremental
        if inc is not None and self.anchor.cursor is not None:
            params[inc.filter_param] = qualys_datetime(self.anchor.cursor)
        return params

    async def records_of(self, root: ET.Element) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def session(self) -> AsyncIterator[Page]:
        base = self.params()
        what = f"stream {self.spec.name}"
        while True:
            params = dict(base)
            if self.pending and self.pending.get("id_min"):
                params["id_min"] = self.pending["id_min"]
            root = await self.get_xml(self._render(self.spec.request.path), params, what)
            self.page_requests += 1
            records = await self.records_of(root)
            next_id = None
            for warning in root.findall("RESPONSE/WARNING"):
                url = warning.findtext("URL")
                if url:
                    next_id = (parse_qs(urlparse(url.strip()).query).get("id_min") or [None])[0]
            self.pending = {"id_min": next_id} if next_id else None
            yield self.process(records)
            if not next_id:
                return


class DetectionReader(QualysReader):
    async def knowledge_base(self, qids: list[str]) -> dict[str, dict[str, Any]]:
        kb: dict[str, dict[str, Any]] = {}
        for i in range(0, len(qids), KB_BATCH):
            root = await self.get_xml(KB_PATH, {"action": "list", "details": "Basic", "ids": ",".join(qids[i:i + KB_BATCH])},
                                      f"stream {self.spec.name}: knowledge base")
            for vuln in root.findall("RESPONSE/VULN_LIST/VULN"):
                entry = xml_to_dict(vuln)
                kb[str(entry.get("QID"))] = entry
        return kb

    async def records_of(self, root: ET.Element) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for host in root.findall("RESPONSE/HOST_LIST/HOST"):
            h = xml_to_dict(host)
            detections = h.pop("DETECTION_LIST", []) or []
            for d in detections if isinstance(detections, list) else []:
                out.append({**d, "HOST": h})
        qids = sorted({str(r.get("QID")) for r in out if r.get("QID")})
        kb = await self.knowledge_base(qids) if qids else {}
        for r in out:
            entry = kb.get(str(r.get("QID")))
            if entry is not None:
                r["KB"] = entry
        return out


class HostReader(QualysReader):
    async def records_of(self, root: ET.Element) -> list[dict[str, Any]]:
        return [xml_to_dict(h) for h in root.findall("RESPONSE/HOST_LIST/HOST")]


class QualysConnector(SessionConnector):
    reader_classes = {"detections": DetectionReader, "hosts": HostReader}

    async def health_check(self) -> HealthStatus:
        """A 409 (Qualys' rate / concurrency limit) means degraded, not down."""
        health = await super().health_check()
        if health.status == "down" and health.details.get("http_status") == 409:
            return HealthStatus("degraded", health.latency_ms, {**health.details, "reason": "Qualys rate or concurrency limit"})
        return health

