"""VMware Carbon Black Cloud: declarative (manifest.yaml) plus two small hooks.

* ``page_request``: a criteria time range is ``{start, end}``, both required; the manifest's
  incremental filter sets ``criteria.<field>.start`` and the end is added here (now, UTC).
* ``transform_record``: device ids are JSON numbers (alerts ``device_id``, devices ``id``) while the
  contract's asset ids are strings, so they are kept as ``aria_device_id`` text (an alert without a
  device, such as a container runtime alert, has none); a Windows device name may carry its domain
  (``ACME\\WS-0042``), so ``aria_host_name`` is the machine name alone. The raw hash is taken before,
  from the record as sent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.plugin import ConnectorPlugin


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class CarbonBlackCloudConnector(DeclarativeConnector):
    def page_request(self, stream: str, params: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
        criteria = body.get("criteria") if isinstance(body, dict) else None
        if not isinstance(criteria, dict):
            return params, body
        ranges = {name: {**value, "end": value.get("end") or utc_now()} for name, value in criteria.items()
                  if isinstance(value, dict) and "start" in value}
        if not ranges:
            return params, body
        return params, {**body, "criteria": {**criteria, **ranges}}

    def transform_record(self, stream: str, record: Any) -> Any:
        if not isinstance(record, dict):
            return record
        if stream == "alerts":
            device = record.get("device_id")
            return {**record, "aria_device_id": str(device) if device not in (None, "", 0) else None}
        name = record.get("name")
        return {**record, "aria_device_id": None if record.get("id") is None else str(record["id"]),
                "aria_host_name": name.rsplit("\\", 1)[-1] if isinstance(name, str) else None}


connector = ConnectorPlugin.from_package(__name__, instance_class=CarbonBlackCloudConnector)
