"""IBM QRadar SIEM: offenses (-> Risk) through the REST API, with Range-header paging in
``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import QRadarConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=QRadarConnector)
