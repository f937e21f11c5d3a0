"""Tenable Security Center: cumulative findings (-> Vulnerability) and hosts (-> Asset) through the
analysis API. Declarative manifest plus the body paging and record quirks in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import TenableSecurityCenterConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=TenableSecurityCenterConnector)
