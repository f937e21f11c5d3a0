"""IBM QRadar SIEM: offenses (-> Risk) through the REST API, paged with the ``Range`` request
header (``range_header`` pagination); declarative."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
