"""Connector SDK: manifest models, declarative runtime, plugin wrapper."""

from .connector import DeclarativeConnector
from .manifest import Manifest, load_manifest
from .plugin import ConnectorPlugin
from .types import (
    ConfigError,
    ConnectionTestResult,
    HealthStatus,
    InstallationContext,
    PreviewResult,
    PushRequest,
    PushResult,
    RecordError,
    RuntimeOptions,
    SyncBatch,
    WebhookParseResult,
    WebhookVerdict,
)

__all__ = [
    "ConfigError", "ConnectionTestResult", "ConnectorPlugin", "DeclarativeConnector", "HealthStatus",
    "InstallationContext", "Manifest", "PreviewResult", "PushRequest", "PushResult", "RecordError", "RuntimeOptions", "SyncBatch", "WebhookParseResult",
    "WebhookVerdict", "load_manifest",
]
