"""Microsoft Defender for Endpoint: alerts (-> Alert), machines (-> Asset), vulnerabilities
(-> Vulnerability) and indicators (-> Indicator), declarative (manifest.yaml); push: alert status
(PATCH /api/alerts/{id})."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
