"""Vendor simulators: ``create_app(key, **options)`` and ``python -m aria_connector_testkit.simulators serve KEY``."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp


def create_app(key: str, **options: Any) -> ASGIApp:
    """The ASGI app of connector ``key``'s vendor simulator (its ``simulator.create_app``)."""
    from aria_connectors import registry

    from .. import simulator_module

    module = simulator_module(registry.get(key))
    if module is None or not hasattr(module, "create_app"):
        raise LookupError(f"connector {key!r} has no HTTP simulator")
    return module.create_app(**options)


__all__ = ["create_app"]
