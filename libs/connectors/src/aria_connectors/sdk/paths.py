"""Dotted record paths ('device.device_id', 'resources', 'meta.pagination.total', 'ips.0').

A key that itself contains dots is written with them escaped: '@odata\\.nextLink' is the key
``@odata.nextLink`` (OData), not ``nextLink`` inside ``@odata``.
"""

from __future__ import annotations

import re
from typing import Any

_MISSING = object()
_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")


def split_path(path: str) -> list[str]:
    return [part.replace("\\.", ".") for part in _UNESCAPED_DOT.split(path)]


def get_path(data: Any, path: str | None, default: Any = None) -> Any:
    if path is None or path in ("", "."):
        return data
    cur = data
    for part in split_path(path):
        if isinstance(cur, dict):
            cur = cur.get(part, _MISSING)
        elif isinstance(cur, list) and part.lstrip("-").isdigit():
            idx = int(part)
            cur = cur[idx] if -len(cur) <= idx < len(cur) else _MISSING
        else:
            cur = _MISSING
        if cur is _MISSING:
            return default
    return cur


def set_path(data: Any, path: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` (a dict or None) with ``value`` at dotted ``path``; intermediate dicts are copied."""
    out: dict[str, Any] = dict(data or {})
    cur = out
    parts = split_path(path)
    for part in parts[:-1]:
        nxt = cur.get(part)
        cur[part] = dict(nxt) if isinstance(nxt, dict) else {}
        cur = cur[part]
    cur[parts[-1]] = value
    return out
