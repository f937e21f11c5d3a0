"""CrowdStrike Falcon: alerts (-> Risk) and hosts (-> Asset), declaratively (manifest.yaml) plus one
hook.

Python escape hatch: Identity Protection alerts (product ``idp``) carry a numeric ``severity`` but
no ``severity_name``; ``transform_record`` names it with the bands of Falcon's 1-100 scale (the ones
the console and the ``severity_name`` of other alerts use), so the manifest maps one field."""

from __future__ import annotations

from typing import Any

from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.plugin import ConnectorPlugin

SEVERITY_BANDS = ((90, "Critical"), (70, "High"), (50, "Medium"), (20, "Low"), (0, "Informational"))


def severity_name(severity: int | float) -> str:
    return next(name for floor, name in SEVERITY_BANDS if severity >= floor)


class FalconConnector(DeclarativeConnector):
    def transform_record(self, stream: str, record: Any) -> Any:
        if (stream == "alerts" and isinstance(record, dict) and record.get("severity_name") is None
                and isinstance(record.get("severity"), (int, float)) and not isinstance(record["severity"], bool)):
            return {**record, "severity_name": severity_name(record["severity"])}
        return record


connector = ConnectorPlugin.from_package(__name__, instance_class=FalconConnector)
