"""Real vendor responses, the ground truth connectors and simulators are checked against.

A connector's corpus is ``vendors/<key>/corpus/<target>/<case>.json``, ``<target>`` a stream
name, ``webhook`` or ``push.<action>``; each case records where it comes from (``source``: URL,
repository, path, commit, licence, what was sanitised), the vendor request it answers
(``request``: method and path template), the response (``response``: status, headers, and a
JSON ``body`` or a ``text`` body), or for a webhook the delivery (``headers``, ``body``), and
optional expectations (``expect``). Values may be sanitised; shapes stay as recorded.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from aria_connectors import registry
from aria_connectors.sdk import ConnectorPlugin
from aria_connectors.sdk.paths import get_path

from . import simulator_module, vendor_dir


@dataclass(frozen=True)
class Case:
    key: str
    target: str
    name: str
    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.target}/{self.name}"

    @property
    def expect(self) -> dict[str, Any]:
        return self.data.get("expect") or {}

    @property
    def request(self) -> dict[str, Any]:
        return self.data.get("request") or {}

    @property
    def response(self) -> dict[str, Any]:
        return self.data.get("response") or {}


@lru_cache(maxsize=None)
def _cases(folder: str, key: str) -> tuple[Case, ...]:
    root = Path(folder) / "corpus"
    if not root.is_dir():
        return ()
    return tuple(Case(key, f.parent.name, f.stem, f, json.loads(f.read_text()))
                 for f in sorted(root.glob("*/*.json")))


def cases(plugin: ConnectorPlugin) -> tuple[Case, ...]:
    folder = vendor_dir(plugin)
    return () if folder is None else _cases(str(folder), plugin.key)


def records_of(plugin: ConnectorPlugin, case: Case) -> list[Any]:
    """The records a stream case's response holds, where the connector reads them: the stream's
    record selector (the hydrate selector when the stream fetches entities by id). A simulator module
    with a ``corpus_records(target, case)`` function reads bodies that are not JSON (Qualys XML)."""
    module = simulator_module(plugin)
    if module is not None and hasattr(module, "corpus_records"):
        return module.corpus_records(case.target, case.data)
    spec = plugin.manifest.stream(case.target)
    selector = spec.hydrate.record_selector if spec.hydrate is not None else spec.record_selector
    records = get_path(case.response.get("body"), selector)
    if not isinstance(records, list):
        raise ValueError(f"{plugin.key} corpus {case.id}: no list at {selector!r}")
    return records


def records_for(key: str, target: str) -> list[Any]:
    """Every recorded record of a connector's stream (a deep copy): the templates a simulator's seeded
    mode varies."""
    plugin = registry.get(key)
    return copy.deepcopy([r for c in cases(plugin) if c.target == target for r in records_of(plugin, c)])


def path_pattern(template: str) -> re.Pattern[str]:
    """A request path template ('/vulns/export/{export_uuid}/chunks/{chunk_id}') as a regex."""
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


def json_shape(value: Any, path: str = "$") -> set[tuple[str, str]]:
    """(path, JSON type) of every value in a document; list elements share the path ``[]``."""
    kind = ("null" if value is None else "boolean" if isinstance(value, bool) else
            "number" if isinstance(value, (int, float)) else "string" if isinstance(value, str) else
            "array" if isinstance(value, list) else "object")
    out = {(path, kind)}
    if isinstance(value, dict):
        for k, v in value.items():
            out |= json_shape(v, f"{path}.{k}")
    elif isinstance(value, list):
        for v in value:
            out |= json_shape(v, f"{path}[]")
    return out
