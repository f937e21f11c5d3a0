"""Tiny template language of manifests: '{settings.base_url}/x', '{secrets.token}', '{cursor}', '{ids}'.

A string that is exactly one placeholder renders to the raw value (so '{ids}' becomes a
list in a JSON body or repeated query parameters); otherwise placeholders are formatted
into the string. Unknown placeholders are a manifest bug and raise KeyError.
"""

from __future__ import annotations

import re
from typing import Any

from .paths import _MISSING, get_path

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


def _lookup(ctx: dict[str, Any], name: str) -> Any:
    value = get_path(ctx, name, _MISSING)
    if value is _MISSING:
        raise KeyError(f"template placeholder {{{name}}} has no value")
    return value


def render(value: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return _lookup(ctx, whole.group(1))
        return _PLACEHOLDER.sub(lambda m: str(_lookup(ctx, m.group(1))), value)
    if isinstance(value, dict):
        return {k: render(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, ctx) for v in value]
    return value


def placeholders(value: Any) -> set[str]:
    if isinstance(value, str):
        return set(_PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(placeholders(v) for v in value)) if value else set()
    return set()
