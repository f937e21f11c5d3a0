"""Qualys VMDR: host detections (-> Vulnerability) and hosts (-> Asset) from the XML APIs.
Declarative manifest plus XML parsing and truncation paging in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import QualysConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=QualysConnector)
