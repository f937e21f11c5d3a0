"""Microsoft Sentinel: incidents (ARM, -> Risk) and the SecurityAlert table (Log Analytics KQL
through ARM, -> Alert); declarative (manifest.yaml) plus a small request/response hook.

Python hooks (``page_request`` / ``page_body``), for what the manifest cannot say yet:

* The Logs query API pages and filters *inside the KQL text*, and answers tables of
  ``columns`` + ``rows``. For requests to ``/api/query`` the virtual parameters ``where``
  (incremental filter), ``order_by``, ``skip`` and ``take`` (offset pagination) are folded
  into the query (``| where ... | sort by ... | serialize _aria_row = row_number() | where
  _aria_row > skip | take n``) and the first table is turned into records (``records``).
"""

from __future__ import annotations

from typing import Any

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.plugin import ConnectorPlugin

KQL_PATH = "/api/query"


def kql_with_paging(query: str, params: dict[str, Any]) -> str:
    """Fold the virtual paging/filter parameters into the KQL text (they are removed from params)."""
    where, order = params.pop("where", None), params.pop("order_by", None)
    skip, take = params.pop("skip", None), params.pop("take", None)
    kql = query.strip()
    if where:
        kql += f" | where {where}"
    if order:
        kql += f" | sort by {order}"
    if skip:
        kql += f" | serialize _aria_row = row_number() | where _aria_row > {int(skip)} | project-away _aria_row"
    if take:
        kql += f" | take {int(take)}"
    return kql


def table_records(body: Any) -> list[dict[str, Any]]:
    """Log Analytics ``{"tables": [{"columns": [{"name"}], "rows": [[...]]}]}`` -> list of dicts."""
    try:
        table = body["tables"][0]
        names = [c["name"] for c in table["columns"]]
        return [dict(zip(names, row)) for row in table["rows"]]
    except (KeyError, IndexError, TypeError):
        raise PermanentError("logs query: response has no tables[0].columns/rows") from None


class SentinelConnector(DeclarativeConnector):
    def page_request(self, stream: str, params: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        if isinstance(body, dict) and "query" in body:
            return params, {**body, "query": kql_with_paging(body["query"], params)}
        return params, body

    def page_body(self, stream: str, body: Any) -> Any:
        return {"records": table_records(body)} if self.manifest.stream(stream).request.path == KQL_PATH else body


connector = ConnectorPlugin.from_package(__name__, instance_class=SentinelConnector)
