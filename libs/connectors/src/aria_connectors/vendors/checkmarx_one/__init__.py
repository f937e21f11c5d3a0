"""Checkmarx One connector: declarative (manifest.yaml). Results are a fan-out stream (``parents:``,
``sdk.fanout``: read per completed scan); the project list has no time filter nor a documented
order, so it is read as one session whose cursor moves when the listing ends
(``sdk.fanout.ListingSessionReader``). The hook combines a result's triage ``state`` and its
``status`` into the contract status."""

from typing import Any

from aria_connectors.sdk.fanout import ListingSessionReader
from aria_connectors.sdk.plugin import ConnectorPlugin
from aria_connectors.sdk.sessions import SessionConnector


class CheckmarxOneConnector(SessionConnector):
    reader_classes = {"projects": ListingSessionReader}

    def transform_record(self, stream: str, record: Any) -> Any:
        if stream != "results" or not isinstance(record, dict):
            return record
        status, state = record.get("status"), record.get("state")
        if status == "FIXED":
            value = "fixed"
        elif state == "NOT_EXPLOITABLE":
            value = "accepted"
        elif status in ("NEW", "RECURRENT"):
            value = "open"
        else:
            value = None  # an unknown status: the record is counted as bad
        return {**record, "_aria_status": value}


connector = ConnectorPlugin.from_package(__name__, instance_class=CheckmarxOneConnector)
