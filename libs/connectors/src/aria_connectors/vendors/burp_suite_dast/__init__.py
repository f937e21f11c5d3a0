"""Burp Suite DAST (PortSwigger; Enterprise Edition): sites (-> web application assets) and the
issues of completed scans (-> vulnerabilities) through the GraphQL API. Declarative manifest plus
the scan -> issues flattening in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import BurpSuiteDastConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=BurpSuiteDastConnector)
