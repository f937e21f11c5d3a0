"""Opaque cursors for keyset pagination: base64url JSON, rejected clearly when tampered with."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from .problems import Problem


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, arity: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity:
        raise Problem(400, "invalid_cursor", "Invalid cursor", "use the next_cursor value of a previous page")
    return values
