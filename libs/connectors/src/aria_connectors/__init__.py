"""ARIA connectors: SDK, vendor connectors and their simulators."""

from . import errors, registry
from .errors import BadWebhookPayload, ConnectorError
from .sdk import (
    ConfigError,
    ConnectionTestResult,
    ConnectorPlugin,
    DeclarativeConnector,
    HealthStatus,
    InstallationContext,
    PreviewResult,
    PushRequest,
    PushResult,
    RecordError,
    RuntimeOptions,
    SyncBatch,
    WebhookVerdict,
)

__all__ = [
    "BadWebhookPayload", "ConfigError", "ConnectionTestResult", "ConnectorError", "ConnectorPlugin",
    "DeclarativeConnector", "HealthStatus", "InstallationContext", "PreviewResult", "PushRequest",
    "PushResult", "RecordError", "RuntimeOptions",
    "SyncBatch", "WebhookVerdict", "errors", "registry",
]
