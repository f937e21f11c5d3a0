"""Tenable Vulnerability Management: vulnerability export (-> Vulnerability) and asset export
(-> Asset). Declarative manifest plus the export workflow in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import TenableConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=TenableConnector)
