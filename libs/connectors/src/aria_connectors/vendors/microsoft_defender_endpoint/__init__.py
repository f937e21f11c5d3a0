"""Microsoft Defender for Endpoint: alerts (-> Alert), machines (-> Asset), vulnerabilities
(-> Vulnerability) and indicators (-> Indicator), declaratively (manifest.yaml).

Push (update alert status via PATCH /api/alerts/{id}) is left for the SDK's push actions."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
