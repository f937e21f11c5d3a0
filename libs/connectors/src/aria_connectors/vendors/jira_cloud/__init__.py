"""Jira Cloud: issues (-> Risk, status sync back) and push actions create/update/comment, declaratively."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
