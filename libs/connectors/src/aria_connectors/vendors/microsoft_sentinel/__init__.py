"""Microsoft Sentinel: incidents (ARM, -> Risk) and the SecurityAlert table (Log Analytics KQL
through ARM, -> Alert); declarative (manifest.yaml) plus a small request/response hook.

Python escape hatch (``SentinelApiClient``), for what the manifest cannot say yet:

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
from aria_connectors.sdk.http import ApiClient
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


class SentinelApiClient(ApiClient):
    async def request_json(self, method: str, path: str, **kw: Any) -> Any:
        if path == KQL_PATH and isinstance(kw.get("json"), dict) and "query" in kw["json"]:
            params = dict(kw.get("params") or {})
            kw = {**kw, "params": params, "json": {**kw["json"], "query": kql_with_paging(kw["json"]["query"], params)}}
            return {"records": table_records(await super().request_json(method, path, **kw))}
        return await super().request_json(method, path, **kw)


class SentinelConnector(DeclarativeConnector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        api = self.api
        if api is not None:
            self.api = SentinelApiClient(base_url=api.base_url, auth=api.auth, http=api.http, retry=api.retry,
                                         limits=api.limits, default_headers=api.default_headers, timeout=api.timeout)


connector = ConnectorPlugin.from_package(__name__, instance_class=SentinelConnector)
