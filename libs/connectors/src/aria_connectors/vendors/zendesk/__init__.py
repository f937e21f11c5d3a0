"""Zendesk Support: tickets from the cursor-based incremental export (-> Risk with the
ticket status) and ticket push actions, declaratively (manifest.yaml); ``connector.py``
adds OAuth bearer authentication as an alternative to API tokens."""

from aria_connectors.sdk.plugin import ConnectorPlugin

from .connector import ZendeskConnector

connector = ConnectorPlugin.from_package(__name__, instance_class=ZendeskConnector)
