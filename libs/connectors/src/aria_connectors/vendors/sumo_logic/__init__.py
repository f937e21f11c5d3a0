"""Sumo Logic: search job messages (-> Alert) and collectors (-> Asset). Declarative
manifest plus the search-job and listing sessions in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import SumoLogicConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=SumoLogicConnector)
