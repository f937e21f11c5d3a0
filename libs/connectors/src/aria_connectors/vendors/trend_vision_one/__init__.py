"""Trend Vision One: declarative (manifest.yaml) plus named hooks (connector.py)."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import TrendVisionOneConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=TrendVisionOneConnector)
