"""Dotted record paths ('device.device_id', 'resources', 'meta.pagination.total', 'ips.0').

A key that itself contains dots is written with them escaped: '@odata\\.nextLink' is the key
``@odata.nextLink`` (OData), not ``nextLink`` inside ``@odata``. A ``*`` part is every element
of a list (or value of an object): 'KB.CVE_LIST.*.ID' is the list of all CVE ids, missing
ones left out.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable

_MISSING = object()
_UNESCAPED_DOT = re.compile(r"(?<!\\)\.")


@functools.lru_cache(maxsize=4096)
def _parts(path: str) -> tuple[str, ...]:
    # Manifests name a few dozen paths, each read for every record: split each once.
    return tuple(part.replace("\\.", ".") for part in _UNESCAPED_DOT.split(path))


def split_path(path: str) -> list[str]:
    return list(_parts(path))


def get_path(data: Any, path: str | None, default: Any = None) -> Any:
    if path is None or path in ("", "."):
        return data
    parts = _parts(path)
    if len(parts) == 1 and type(data) is dict and parts[0] != "*":  # most paths: a field of the record
        return data.get(parts[0], default)
    return _get(data, parts, default)


@functools.lru_cache(maxsize=4096)
def getter(path: str | None) -> Callable[[Any], Any]:
    """``get_path(data, path)`` as a function of ``data``, built once per path: mappings compile
    their paths so a record's fields are read without re-examining each path per record."""
    if path is None or path in ("", "."):
        return _itself
    parts = _parts(path)
    if len(parts) == 1 and parts[0] != "*":
        key = parts[0]
        return lambda data: data.get(key) if type(data) is dict else _get(data, parts, None)
    return functools.partial(_get, parts=parts, default=None)


def plain_key(path: str | None) -> str | None:
    """The key when ``path`` reads one field of a dict (``getter(path)(d) == d.get(key)`` for a dict
    ``d``), else None: a mapping reads such fields without a function call per field."""
    if path is None or path in ("", "."):
        return None
    parts = _parts(path)
    return parts[0] if len(parts) == 1 and parts[0] != "*" else None


def _itself(data: Any) -> Any:
    return data


def _get(data: Any, parts: tuple[str, ...], default: Any) -> Any:
    cur = data
    for i, part in enumerate(parts):
        if part == "*":
            items = cur if isinstance(cur, list) else list(cur.values()) if isinstance(cur, dict) else None
            if items is None:
                return default
            rest = parts[i + 1:]
            found = [v for v in (_get(item, rest, _MISSING) for item in items) if v is not _MISSING and v is not None]
            return [x for v in found for x in v] if "*" in rest else found  # 'a.*.b.*' is one flat list
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
