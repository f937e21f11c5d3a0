"""Rapid7 InsightVM (Integration API v4): assets (-> Asset) and their findings joined with the
vulnerability definitions (-> Vulnerability). Declarative manifest plus the search sessions in
``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import InsightVMConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=InsightVMConnector)
