"""Burp Suite DAST (Enterprise Edition): the GraphQL API nests a scan's issues in the scan
(``scans { ... issues { ... } }``), so the issues stream pages over completed scans and publishes
their issues, each carrying its scan under ``scan`` (id, end time, status, target)."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit
from typing import Any, AsyncIterator

from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.manifest import StreamSpec
from aria_connectors.sdk.paths import get_path
from aria_connectors.errors import MappingError
from aria_connectors.sdk.mapping import cursor_key
from aria_connectors.sdk.paging import SinglePage, record_cursor
from aria_connectors.sdk.streams import Page, StreamReader

# the list of a scan holding its issues (the records); its other fields go with each issue as "scan"
SCAN_ISSUES = "issues"
# sites published per batch (the site tree comes whole)
SITE_BATCH = 500


def scan_issues(scans: Any) -> list[Any]:
    """The issues of a page of scans, flat, each with its scan's own fields under ``scan``."""
    records: list[Any] = []
    for scan in scans if isinstance(scans, list) else []:
        if not isinstance(scan, dict):
            continue
        parent = {k: v for k, v in scan.items() if k != SCAN_ISSUES}
        for issue in scan.get(SCAN_ISSUES) or []:
            records.append({**issue, "scan": parent} if isinstance(issue, dict) else issue)
    return records


class ScanIssuesReader(StreamReader):
    """Pages count scans (the vendor's ``offset``/``limit`` window is over scans), records are their issues."""

    async def _records_of(self, body: Any) -> tuple[list[Any], int]:
        scans, n = await super()._records_of(body)
        return scan_issues(scans), n


class SiteTreeReader(StreamReader):
    """``site_tree`` answers every site at once (no paging argument): the list is read in one request
    and published in batches of the page size, in cursor (site id) order, so a checkpoint taken after
    any batch lies behind every site not yet published."""

    async def pages(self) -> AsyncIterator[Page]:
        paging = SinglePage(self, self.spec.pagination)
        anchor = self.anchor()
        body, _ = await paging.fetch(paging.path, params=paging.base_params or None, json=paging.json_body)
        records, _ = await self._records_of(body)
        inc = self.spec.incremental

        def order(record: Any) -> tuple[int, Any]:
            try:
                return 0, cursor_key(record_cursor(record, inc), inc.cursor_type)
            except MappingError:
                return 1, 0  # counted as a record error by _process
        if inc is not None:
            records = sorted(records, key=order)
        size = self.conn.options.page_size or SITE_BATCH
        for start in range(0, max(len(records), 1), size):
            if start:
                self.page_requests += 1  # a batch is a page to preview, which stops after max_pages
            yield self._process(records[start:start + size], anchor)


class BurpSuiteDastConnector(DeclarativeConnector):
    def stream_reader(self, spec: StreamSpec, state: dict[str, Any] | None, job_id: uuid.UUID | None) -> StreamReader:
        if spec.name == "issues":
            return ScanIssuesReader(self, spec, state, job_id)
        if spec.name == "sites":
            return SiteTreeReader(self, spec, state, job_id)
        return super().stream_reader(spec, state, job_id)

    def transform_record(self, stream: str, record: Any) -> Any:
        """A site's first start URL names its host (``_host``: the fqdn / IP the contract correlates on)."""
        if stream == "sites" and isinstance(record, dict):
            urls = get_path(record, "scope_v2.start_urls") or []
            host = urlsplit(urls[0]).hostname if urls and isinstance(urls[0], str) else None
            return {**record, "_host": host}
        return record
