"""Dotted record paths ('device.device_id', 'resources', 'meta.pagination.total', 'ips.0')."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def get_path(data: Any, path: str | None, default: Any = None) -> Any:
    if path is None or path in ("", "."):
        return data
    cur = data
    for part in path.split("."):
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
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = cur.get(part)
        cur[part] = dict(nxt) if isinstance(nxt, dict) else {}
        cur = cur[part]
    cur[parts[-1]] = value
    return out
