"""Tenable Security Center: what its manifest cannot say.

* The analysis API pages inside the JSON body (``query.startOffset`` / ``query.endOffset``, the
  end exclusive) and filters in a list (``query.filters: [{filterName, operator, value}]``);
  ``lastSeen`` takes ``"<start>-<end>"`` in epoch seconds (the vendor refuses a bare ``>=``:
  "filter 'lastSeen' must be in the following format: <end day>:<start day>, <start time>-<end
  time>, ..."). ``page_request`` moves the SDK's offset, limit and cursor filter there.
* Findings are sorted by ``lastSeen`` ascending, so the SDK's re-anchored offset paging reads
  them. The IP summary (``sumip``) cannot be sorted by a host's last scan, so the assets stream
  is one session over a fixed window ``[checkpoint, start of the session]``, its offset kept in
  the checkpoint (``sdk.sessions``), and the cursor moves only when the session ends.
* ``transform_record`` (the raw hash is taken before it): Tenable writes an absent value as
  ``""`` (dropped here), CVEs as one comma-separated string, numbers as strings; it adds
  ``aria_host_key`` (the host identity both streams share: repository id + agent UUID, else
  repository id + IP + DNS name, Tenable's own "uniqueness"), ``aria_hostname`` / ``aria_fqdn``,
  ``aria_status`` (acceptRisk -> accepted, hasBeenMitigated -> reopened, else open), and for hosts
  ``aria_last_seen`` (the later of ``lastAuthRun`` / ``lastUnauthRun``).
"""

from __future__ import annotations

import copy
import ipaddress
import time
from datetime import timezone
from typing import Any, AsyncIterator

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.paths import get_path
from aria_connectors.sdk.sessions import SessionConnector, SessionReader
from aria_connectors.sdk.streams import Page

#: seconds past "now" the upper end of a lastSeen window reaches (scanner clocks run ahead)
WINDOW_SLACK = 86400


def _epoch(cursor: Any) -> int:
    dt, _ns = cursor_key(cursor, "datetime")
    return int(dt.astimezone(timezone.utc).timestamp())


def last_seen_window(start: int | None, end: int) -> dict[str, Any]:
    return {"filterName": "lastSeen", "operator": "=", "value": f"{max(0, start or 0)}-{end}"}


def analysis_body(template: Any, offset: int, limit: int, filters: list[dict[str, Any]]) -> dict[str, Any]:
    """The stream's analysis request with a page window and filters in its ``query``."""
    body = copy.deepcopy(template) if isinstance(template, dict) else {}
    query = body.setdefault("query", {})
    query["startOffset"] = offset
    query["endOffset"] = offset + limit
    query["filters"] = [*query.get("filters", []), *filters]
    return body


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def names(dns: str | None, netbios: str | None) -> tuple[str | None, str | None]:
    """(short host name, FQDN) from a DNS name, else the NetBIOS name's host part."""
    if dns and not _is_ip(dns):
        return (dns.split(".", 1)[0], dns) if "." in dns else (dns, None)
    if netbios:
        return netbios.rsplit("\\", 1)[-1] or None, None
    return None, None


def _score(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class AssetSessionReader(SessionReader):
    """sumip pages over one fixed lastSeen window; ``pending`` = {offset, end}."""

    async def session(self) -> AsyncIterator[Page]:
        spec, conn = self.spec, self.conn
        if self.pending is None:
            self.pending = {"offset": 0, "end": int(time.time()) + WINDOW_SLACK}
        limit = conn.options.page_size or getattr(spec.pagination, "page_size", 1000)
        start = _epoch(self.anchor.cursor) - 1 if self.anchor.cursor is not None else None
        while True:
            offset = int(self.pending["offset"])
            filters = [last_seen_window(start, int(self.pending["end"]))] if start is not None else []
            filters += [{"filterName": k, "operator": "=", "value": v} for k, v in self.filters.items()]
            body = await conn.api.request_json(spec.request.method, self._render(spec.request.path),
                                               json=analysis_body(self._render(spec.request.json_body), offset, limit, filters),
                                               what=f"stream {spec.name}")
            self.page_requests += 1
            records = get_path(body, spec.record_selector)
            if records is None:
                records = []
            if not isinstance(records, list):
                raise PermanentError(f"stream {spec.name}: no list at {spec.record_selector!r}")
            total = get_path(body, "response.totalRecords")
            if self.total is None and str(total).isdigit():
                self.total = int(total)
            self.records_read += len(records)
            self.pending["offset"] = offset + len(records)
            if len(records) < limit or (str(total).isdigit() and offset + len(records) >= int(total)):
                self.pending = None  # the last page completes the session: the cursor advances
            yield self.process(records)
            if self.pending is None:
                return


class TenableSecurityCenterConnector(SessionConnector):
    reader_classes = {"assets": AssetSessionReader}

    def page_request(self, stream: str, params: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if stream != "vulnerabilities":
            return params, body
        offset = int(params.pop("startOffset", 0))
        limit = int(params.pop("endOffset", 1000))
        filters = []
        cursor = params.pop("lastSeen", None)
        if cursor is not None:
            filters.append(last_seen_window(_epoch(cursor), int(time.time()) + WINDOW_SLACK))
        # query(): extra filters in the vendor's own names
        filters += [{"filterName": k, "operator": "=", "value": v} for k, v in params.items()]
        return {}, analysis_body(body, offset, limit, filters)

    def transform_record(self, stream: str, record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        rec = {k: v for k, v in record.items() if v != ""}
        repo = get_path(rec, "repository.id")
        if rec.get("uuid"):
            rec["aria_host_key"] = f"{repo}:{rec['uuid']}" if repo is not None else None
        elif rec.get("ip") and repo is not None:
            rec["aria_host_key"] = f"{repo}:{rec['ip']}:{rec.get('dnsName', '')}"
        rec["aria_hostname"], rec["aria_fqdn"] = names(rec.get("dnsName"), rec.get("netbiosName"))
        if stream == "vulnerabilities":
            rec["aria_cves"] = [c.strip() for c in str(rec.get("cve", "")).split(",") if c.strip()]
            rec["aria_cvss3"] = _score(rec.get("cvssV3BaseScore"))
            rec["aria_cvss2"] = _score(rec.get("baseScore"))
            rec["aria_status"] = ("accepted" if rec.get("acceptRisk") == "1" else
                                  "reopened" if rec.get("hasBeenMitigated") == "1" else "open")
        else:
            runs = [int(v) for v in (rec.get("lastAuthRun"), rec.get("lastUnauthRun")) if str(v).isdigit()]
            if runs:
                rec["aria_last_seen"] = str(max(runs))
        return rec


__all__ = ["TenableSecurityCenterConnector"]
