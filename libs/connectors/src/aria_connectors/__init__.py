"""ARIA connectors: SDK, vendor connectors and their simulators."""

from . import errors, registry, sdk
from .errors import BadWebhookPayload, ConnectorError
from .sdk import *  # noqa: F403 - the SDK's public API, listed once in sdk.__all__

__all__ = ["BadWebhookPayload", "ConnectorError", "errors", "registry"]
__all__ += sdk.__all__
