"""Zendesk Support: tickets from the cursor-based incremental export (-> Risk with the
ticket status) and ticket push actions, declaratively (manifest.yaml): API token or OAuth
access token, chosen by the configuration."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
