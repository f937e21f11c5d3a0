"""Connector discovery through the ``aria.connectors`` entry point group.

Any installed distribution can add a connector by declaring
``[project.entry-points."aria.connectors"] my_key = "my_pkg.my_connector:connector"``
where ``connector`` is a ``ConnectorPlugin``. ``discover()`` re-reads the installed
distributions and keeps the result; ``get()`` (on request paths) uses the last result, so a
lookup does not scan every installed distribution. Plugins hold no tenant state.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points

from .sdk.plugin import ConnectorPlugin

GROUP = "aria.connectors"
log = logging.getLogger(__name__)
_known: dict[str, ConnectorPlugin] | None = None  # the last discover()


class UnknownConnector(KeyError):
    pass


class BrokenConnector(Exception):
    pass


def discover(*, strict: bool = False) -> dict[str, ConnectorPlugin]:
    """key -> plugin for every entry point of the group. A connector that fails to load is
    logged and left out (``strict=True`` raises instead)."""
    found: dict[str, ConnectorPlugin] = {}
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        if ep.name in found:
            continue  # the first distribution on sys.path wins, like importlib does
        try:
            plugin = ep.load()
            if callable(plugin) and not isinstance(plugin, ConnectorPlugin):
                plugin = plugin()
            if not isinstance(plugin, ConnectorPlugin):
                raise BrokenConnector(f"entry point {ep.name} is not a ConnectorPlugin")
            if plugin.manifest.key != ep.name:
                raise BrokenConnector(f"entry point {ep.name} loads connector {plugin.manifest.key!r}")
        except Exception as exc:
            if strict:
                raise BrokenConnector(f"connector {ep.name} failed to load: {exc}") from exc
            log.error("connector %s failed to load: %s", ep.name, exc)
            continue
        found[ep.name] = plugin
    global _known
    _known = found
    return found


def get(key: str) -> ConnectorPlugin:
    plugins = _known if _known is not None else discover()
    try:
        return plugins[key]
    except KeyError:
        raise UnknownConnector(key) from None
