"""ServiceNow ITSM: incidents (-> Risk, status sync back) and push actions create/update/work note."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
