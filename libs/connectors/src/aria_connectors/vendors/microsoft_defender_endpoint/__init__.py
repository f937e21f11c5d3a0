"""Microsoft Defender for Endpoint: alerts (-> Alert), machines (-> Asset), vulnerabilities
(-> Vulnerability) and indicators (-> Indicator), declaratively (manifest.yaml) plus one hook;
push: alert status (PATCH /api/alerts/{id}).

Python escape hatch: a TVM vulnerability's ``id`` is its CVE id when it has one and a
Microsoft-assigned ``TVM-…`` id otherwise; ``transform_record`` copies only a CVE id to
``aria_cve_id``, the path the manifest's ``cve_ids`` reads, so a TVM id is never published as a CVE."""

from __future__ import annotations

import re
from typing import Any

from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.plugin import ConnectorPlugin

CVE_ID = re.compile(r"CVE-\d{4}-\d{4,}")


class DefenderConnector(DeclarativeConnector):
    def transform_record(self, stream: str, record: Any) -> Any:
        if stream == "vulnerabilities" and isinstance(record, dict):
            vid = record.get("id")
            return {**record, "aria_cve_id": vid if isinstance(vid, str) and CVE_ID.fullmatch(vid) else None}
        return record


connector = ConnectorPlugin.from_package(__name__, instance_class=DefenderConnector)
