"""Splunk (Enterprise / Enterprise Security): notable events from search jobs (-> Alert).
Declarative manifest plus the search-job workflow in ``connector.py``."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import SplunkConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=SplunkConnector)
