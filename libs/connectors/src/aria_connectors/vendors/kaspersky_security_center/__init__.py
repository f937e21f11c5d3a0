"""Kaspersky Security Center: managed devices (-> Asset) through the KSC Open API. Declarative
manifest (``session_login`` auth) plus the accessor reader and record quirks in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import KasperskySecurityCenterConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=KasperskySecurityCenterConnector)
