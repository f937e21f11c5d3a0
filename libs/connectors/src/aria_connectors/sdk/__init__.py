"""Connector SDK: manifest models, declarative runtime, plugin wrapper."""

from . import types
from .connector import DeclarativeConnector, drain_sync
from .manifest import Manifest, load_manifest
from .plugin import ConnectorPlugin
from .types import *  # noqa: F403 - the SDK's value types, listed once in types.__all__

__all__ = ["ConnectorPlugin", "DeclarativeConnector", "Manifest", "drain_sync", "load_manifest"]
__all__ += types.__all__
