"""Sophos Central: alerts (-> Alert) and endpoints (-> Asset), endpoint isolation and alert
acknowledgement. Declarative manifest plus one hook: the data-region host and tenant header are
learnt from ``GET /whoami/v1`` (``connector.py``)."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import SophosCentralConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=SophosCentralConnector)
