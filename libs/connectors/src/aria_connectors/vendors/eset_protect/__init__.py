"""ESET PROTECT (ESET Connect API): detections (-> Alert) and devices (-> Asset), network
isolation through device tasks. Declarative manifest plus ``connector.py`` (regional hosts)."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import EsetProtectConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=EsetProtectConnector)
