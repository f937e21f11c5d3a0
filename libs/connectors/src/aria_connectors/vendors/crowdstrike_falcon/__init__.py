"""CrowdStrike Falcon: alerts (-> Risk) and hosts (-> Asset), declarative (manifest.yaml)."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
