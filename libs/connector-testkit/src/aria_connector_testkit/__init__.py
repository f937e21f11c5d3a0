"""What tests, the local stack and benchmarks need around connectors and service images do not:
vendor simulators, conformance fixtures, real-response corpora, replay and shape checks, the
quality computation and the scaffold. A connector's files here live in ``vendors/<key>/``; a
connector from an outside distribution keeps them next to its manifest instead."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml
from aria_connectors.sdk import ConnectorPlugin

VENDORS_DIR = Path(__file__).resolve().parent / "vendors"


def vendor_dir(plugin: ConnectorPlugin) -> Path | None:
    """The folder of the connector's simulator, fixtures and corpus."""
    own = VENDORS_DIR / plugin.key
    return own if own.is_dir() else plugin.directory


def simulator_module(plugin: ConnectorPlugin) -> ModuleType | None:
    """The connector's ``simulator`` module, or None when it ships none."""
    for package in (f"{__name__}.vendors.{plugin.key}", plugin.package):
        if not package:
            continue
        name = f"{package}.simulator"
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name not in (name, package):
                raise
    return None


def fixtures(plugin: ConnectorPlugin) -> dict[str, Any] | None:
    """The connector's ``conformance.yaml`` (fixture data of the shared conformance suite)."""
    folder = vendor_dir(plugin)
    if folder is None or not (folder / "conformance.yaml").exists():
        return None
    return yaml.safe_load((folder / "conformance.yaml").read_text())
