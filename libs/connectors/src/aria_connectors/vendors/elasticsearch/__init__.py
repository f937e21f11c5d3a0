"""Elasticsearch (Elastic Security alerts): ``.alerts-security.alerts-*`` documents (-> Alert),
paged with ``search_after``; declarative (manifest.yaml) plus one hook.

Python escape hatch: Elastic Security stores ``kibana.alert.*`` as flat dotted keys in
``_source`` (``{"kibana.alert.rule.name": ...}``) next to nested ECS objects (``host.os.name``),
while manifest paths split on dots. ``transform_record`` expands dotted keys into nested
objects so ``_source.kibana.alert.rule.name`` and ``_source.host.name`` both resolve.

Push: ``send_event`` indexes ARIA risks with ``POST /_bulk`` (an NDJSON body: a ``create`` action
with the entity id as ``_id``, so a re-sent request cannot index a document twice).
"""

from __future__ import annotations

from typing import Any

from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.plugin import ConnectorPlugin


def expand_dotted(source: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1, "a": {"c": 2}}`` -> ``{"a": {"b": 1, "c": 2}}``; a key that would overwrite a
    non-object value stays flat."""
    out: dict[str, Any] = {}
    for key in sorted(source, key=lambda k: k.count(".")):  # objects first, dotted leaves merge in
        value = expand_dotted(source[key]) if isinstance(source[key], dict) else source[key]
        parts = key.split(".")
        cur = out
        for i, part in enumerate(parts[:-1]):
            nxt = cur.get(part)
            if nxt is None:
                nxt = cur[part] = {}
            if not isinstance(nxt, dict):
                cur = None
                break
            cur = nxt
        if cur is None or (parts[-1] in cur and isinstance(cur[parts[-1]], dict) and isinstance(value, dict)):
            if cur is not None:
                cur[parts[-1]].update(value)
            else:
                out[key] = value
            continue
        cur[parts[-1]] = value
    return out


class ElasticsearchConnector(DeclarativeConnector):
    def transform_record(self, stream: str, record: Any) -> Any:
        if isinstance(record, dict) and isinstance(record.get("_source"), dict):
            return {**record, "_source": expand_dotted(record["_source"])}
        return record


connector = ConnectorPlugin.from_package(__name__, instance_class=ElasticsearchConnector)
