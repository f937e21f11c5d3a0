"""Freshdesk: tickets (-> Risk with the ticket status), declaratively (manifest.yaml)."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
