"""Rapid7 InsightVM (Integration API v4): what its manifest cannot say.

* The asset search is cursor paged and not ordered by ``last_scan_end``, so each stream is read as
  one session (``sdk.sessions``): the search criteria stay anchored on the checkpoint for the whole
  session, the vendor's cursor token is kept in the checkpoint, and the cursor moves when the
  session ends. A token the vendor no longer accepts (400) restarts the session from the anchor.
* Findings live inside each asset (``same`` / ``new`` / ``remediated`` with ``includeSame=true``)
  and carry no title, severity or CVSS: each page's findings become records carrying their asset
  (``asset``: id, ip, host_name, last_scan_end) and their definition (``vulnerability``, from
  ``POST /vm/v4/integration/vulnerabilities`` with ``id IN [...]``).
* ``transform_record`` (the raw hash is taken before it): CVEs are one comma-separated string;
  a CVSS v3 score of 0.0 without a vector is "none"; a remediated finding is fixed; the host
  name is split into short name and FQDN.
"""

from __future__ import annotations

import ipaddress
from typing import Any, AsyncIterator

from aria_connectors.errors import ConnectorError, PermanentError
from aria_connectors.sdk.paths import get_path, set_path
from aria_connectors.sdk.sessions import SessionConnector, SessionReader
from aria_connectors.sdk.streams import Page

DEFINITIONS = "/vm/v4/integration/vulnerabilities"
STATES = ("same", "new", "remediated")
ASSET_KEYS = ("id", "ip", "host_name", "last_scan_end")


class SearchReader(SessionReader):
    """One asset search session; ``pending`` = {cursor: the vendor's next-page token}."""

    async def session(self) -> AsyncIterator[Page]:
        spec, conn = self.spec, self.conn
        pag = spec.pagination
        if self.pending is None:
            self.pending = {"cursor": None}
        body = self._filter_body(self._render(spec.request.json_body) or {}, self.anchor)
        for key, value in self.filters.items():  # query(): extra criteria in the vendor's syntax
            body = set_path(body, key, value)
        params = dict(self._render(spec.request.params))
        params[pag.limit_param] = conn.options.page_size or pag.page_size
        while True:
            token = self.pending.get("cursor")
            try:
                page = await conn.api.request_json(spec.request.method, self._render(spec.request.path),
                                                   params={**params, **({pag.cursor_param: token} if token else {})},
                                                   json=body, what=f"stream {spec.name}")
            except ConnectorError as exc:
                if token and exc.status_code == 400:  # the vendor no longer knows the search
                    self.restart()
                    self.pending = {"cursor": None}
                    continue
                raise
            self.page_requests += 1
            assets = get_path(page, spec.record_selector)
            if assets is None:
                assets = []
            if not isinstance(assets, list):
                raise PermanentError(f"stream {spec.name}: no list at {spec.record_selector!r}")
            total = get_path(page, "metadata.totalResources")
            if self.total is None and isinstance(total, int):
                self.total = total
            self.records_read += len(assets)
            records = await self.findings(assets) if spec.name == "vulnerabilities" else assets
            nxt = get_path(page, pag.next_cursor_path)
            self.pending["cursor"] = nxt
            if not nxt or not assets:
                self.pending = None  # the last page completes the session: the cursor advances
            yield self.process(records)
            if self.pending is None:
                return

    async def findings(self, assets: list[Any]) -> list[Any]:
        records = []
        for asset in assets:
            if not isinstance(asset, dict):
                continue
            owner = {k: asset[k] for k in ASSET_KEYS if k in asset}
            for state in STATES:
                for finding in asset.get(state) or []:
                    if isinstance(finding, dict):
                        records.append({**finding, "asset": owner, "finding_state": state})
        ids = sorted({r["vulnerability_id"] for r in records if isinstance(r.get("vulnerability_id"), str)})
        known: dict[str, Any] = {}
        for start in range(0, len(ids), 100):
            chunk = ids[start:start + 100]
            criteria = "id IN [" + ", ".join(f"'{i}'" for i in chunk) + "]"
            body = await self.conn.api.request_json("POST", DEFINITIONS, params={"size": len(chunk)},
                                                    json={"vulnerability": criteria},
                                                    what=f"stream {self.spec.name}: vulnerability definitions")
            for definition in get_path(body, "data") or []:
                if isinstance(definition, dict) and "id" in definition:
                    known[definition["id"]] = definition
        for r in records:
            if r.get("vulnerability_id") in known:
                r["vulnerability"] = known[r["vulnerability_id"]]
        return records


def _names(host: Any) -> tuple[str | None, str | None]:
    if not isinstance(host, str) or not host:
        return None, None
    try:
        ipaddress.ip_address(host)
        return None, None
    except ValueError:
        pass
    return (host.split(".", 1)[0], host) if "." in host else (host, None)


class InsightVMConnector(SessionConnector):
    reader_classes = {"assets": SearchReader, "vulnerabilities": SearchReader}

    def transform_record(self, stream: str, record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        rec = dict(record)
        if stream == "assets":
            rec["aria_hostname"], rec["aria_fqdn"] = _names(rec.get("host_name"))
            return rec
        definition = rec.get("vulnerability") or {}
        cves = definition.get("cves")
        rec["aria_cves"] = [c.strip() for c in cves.split(",") if c.strip()] if isinstance(cves, str) else []
        v3 = definition.get("cvss_v3_score")
        rec["aria_cvss3"] = v3 if definition.get("cvss_v3_vector") and isinstance(v3, (int, float)) else None
        rec["aria_status"] = "fixed" if rec.get("finding_state") == "remediated" else "open"
        return rec


__all__ = ["InsightVMConnector"]
