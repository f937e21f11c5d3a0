"""Palo Alto Networks Cortex XDR: declarative (manifest.yaml) plus two small hooks.

* ``page_request``: every Cortex XDR list call filters inside ``request_data.filters``, a list of
  ``{field, operator, value}`` terms AND-ed together; the manifest's incremental filter lands at
  ``request_data.since`` (epoch ms) and is turned here into the stream's ``gte`` term
  (incidents ``modification_time``, alerts ``server_creation_time``, endpoints ``last_seen``).
* ``transform_record``: alerts name ATT&CK as ``"TA0006 - Credential Access"`` /
  ``"T1003 - OS Credential Dumping"``; the ids are kept as ``aria_tactic_id`` /
  ``aria_technique_id`` for the mapping (the raw hash is taken before, from the record as sent).
"""

from __future__ import annotations

import re
from typing import Any

from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.plugin import ConnectorPlugin

SINCE_FIELD = {"incidents": "modification_time", "alerts": "server_creation_time", "endpoints": "last_seen"}
_ATTACK_ID = re.compile(r"^\s*(T[A]?\d{4}(?:\.\d{3})?)\b")


def attack_id(values: Any) -> str | None:
    """The ATT&CK id leading the first ``"<id> - <name>"`` entry, if any."""
    for value in values if isinstance(values, list) else [values]:
        m = _ATTACK_ID.match(value) if isinstance(value, str) else None
        if m:
            return m.group(1)
    return None


class CortexXdrConnector(DeclarativeConnector):
    def page_request(self, stream: str, params: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        data = body.get("request_data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or "since" not in data:
            return params, body
        data = dict(data)
        since = data.pop("since")
        filters = [f for f in data.get("filters") or [] if isinstance(f, dict)]
        filters.append({"field": SINCE_FIELD[stream], "operator": "gte", "value": since})
        data["filters"] = filters
        return params, {**body, "request_data": data}

    def transform_record(self, stream: str, record: Any) -> Any:
        if stream != "alerts" or not isinstance(record, dict):
            return record
        return {**record, "aria_tactic_id": attack_id(record.get("mitre_tactic_id_and_name")),
                "aria_technique_id": attack_id(record.get("mitre_technique_id_and_name"))}


connector = ConnectorPlugin.from_package(__name__, instance_class=CortexXdrConnector)
