"""Connector SDK: manifest models, declarative runtime, plugin wrapper."""

from .connector import DeclarativeConnector, drain_sync
from .manifest import Manifest, load_manifest
from .plugin import ConnectorPlugin
from .types import (
    AuthenticationResult,
    ConfigError,
    ConnectionTestResult,
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
    WebhookParseResult,
    WebhookResult,
    WebhookVerdict,
)

__all__ = [
    "AuthenticationResult", "ConfigError", "ConnectionTestResult", "ConnectorPlugin", "DeclarativeConnector",
    "HealthStatus", "InstallationContext", "Manifest", "PreviewResult", "PushRequest", "PushResult", "QueryResult",
    "RecordError", "RuntimeOptions", "SyncBatch", "SyncResult", "WebhookParseResult", "WebhookResult",
    "WebhookVerdict", "drain_sync", "load_manifest",
]
