"""ARIA connectors: SDK, vendor connectors and their simulators."""

from . import errors, registry
from .errors import BadWebhookPayload, ConnectorError
from .sdk import (
    AuthenticationResult,
    ConfigError,
    ConnectionTestResult,
    ConnectorPlugin,
    DeclarativeConnector,
    HealthStatus,
    InstallationContext,
    PreviewResult,
    PushRequest,
    PushResult,
    QueryResult,
    RecordError,
    RuntimeOptions,
    SyncBatch,
    SyncResult,
    WebhookResult,
    WebhookVerdict,
    drain_sync,
)

__all__ = [
    "AuthenticationResult", "BadWebhookPayload", "ConfigError", "ConnectionTestResult", "ConnectorError",
    "ConnectorPlugin", "DeclarativeConnector", "HealthStatus", "InstallationContext", "PreviewResult", "PushRequest",
    "PushResult", "QueryResult", "RecordError", "RuntimeOptions", "SyncBatch", "SyncResult", "WebhookResult",
    "WebhookVerdict", "drain_sync", "errors", "registry",
]
