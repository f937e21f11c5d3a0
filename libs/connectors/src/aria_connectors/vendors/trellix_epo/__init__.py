"""Trellix ePolicy Orchestrator (on premises): threat events (-> Alert) and System Tree systems
(-> Asset) through the ePO Web API. Declarative manifest (``api.response_prefix: "OK:"``) plus
the query paging and record quirks in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import TrellixEpoConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=TrellixEpoConnector)
