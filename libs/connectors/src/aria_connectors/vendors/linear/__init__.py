"""Linear: issues (-> Risk, status sync back) and issue/comment push actions over GraphQL.

Fully declarative: GraphQL is JSON over POST, so the manifest carries the queries; body-based
error rules classify Linear's ``extensions.code`` (AUTHENTICATION_ERROR, RATELIMITED on HTTP 400)."""

from aria_connectors.sdk.plugin import ConnectorPlugin

connector = ConnectorPlugin.from_package(__name__)
