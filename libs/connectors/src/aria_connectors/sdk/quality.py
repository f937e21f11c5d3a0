"""The quality tier a connector earned, as the conformance suite last computed it.

The computation lives in the test kit (``aria_connector_testkit.quality``); a full run of
``libs/connectors/tests`` compares it with the committed ``aria_connectors/quality.json``, which
``catalog_entry()`` reads through ``quality_of``: a connector absent from it is ``unrated``.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

QUALITY_PATH = Path(__file__).resolve().parent.parent / "quality.json"


@lru_cache(maxsize=1)
def _load(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        return {}
    try:
        return json.loads(p.read_text()).get("connectors", {})
    except (ValueError, AttributeError):
        return {}


def quality_of(key: str) -> dict[str, Any]:
    entry = _load(str(QUALITY_PATH)).get(key)
    if not isinstance(entry, dict):
        return {"tier": "unrated", "criteria": {}}
    return {"tier": entry.get("tier", "unrated"), "criteria": dict(entry.get("criteria", {}))}


def reload() -> None:
    _load.cache_clear()
