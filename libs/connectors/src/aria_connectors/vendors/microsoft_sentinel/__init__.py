"""Microsoft Sentinel: incidents (ARM, -> Risk) and the SecurityAlert table (Log Analytics KQL
through ARM, -> Alert); declarative (manifest.yaml) plus one named component.

``KqlTableReader`` reads the ``security_alerts`` stream. The Logs query API pages and filters
*inside the KQL text* and answers tables of ``columns`` + ``rows``, so its page hook folds the
virtual parameters ``where`` (incremental filter), ``order_by``, ``skip`` and ``take`` (offset
pagination) into the query (``| where ... | sort by ... | serialize _aria_row = row_number() |
where _aria_row > skip | take n``) and turns the first table into records (``records``). Paging,
re-anchoring and the request itself (auth, retries, rate limits, ``api.error_rules``) stay the
SDK's.
"""

from __future__ import annotations

from typing import Any

from aria_connectors.errors import PermanentError
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connectors.sdk.sessions import SessionConnector
from aria_connectors.sdk.streams import StreamReader


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


class KqlTableReader(StreamReader):
    async def page_body(self, method: str, path: str, **kw: Any) -> Any:
        params = dict(kw.get("params") or {})
        query = kql_with_paging(kw["json"]["query"], params)
        body = await super().page_body(method, path, **{**kw, "params": params, "json": {**kw["json"], "query": query}})
        return {"records": table_records(body)}


class SentinelConnector(SessionConnector):
    reader_classes = {"security_alerts": KqlTableReader}


connector = ConnectorPlugin.from_package(__name__, instance_class=SentinelConnector)
