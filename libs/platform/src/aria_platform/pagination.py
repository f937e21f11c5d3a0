"""Opaque cursors for keyset pagination: base64url JSON, rejected clearly when tampered with."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from .problems import Problem
from .text import unstorable

_INT64 = 2**63


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values, default=str)).decode().rstrip("=")


def decode_cursor(cursor: str | None, *, arity: int) -> list[Any] | None:
    if cursor is None:
        return None
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        values = None
    if not isinstance(values, list) or len(values) != arity or not all(map(_scalar, values)):
        raise invalid_cursor()
    return values


def invalid_cursor() -> Problem:
    return Problem(400, "invalid_cursor", "Invalid cursor", "use the next_cursor value of a previous page")


def _scalar(value: Any) -> bool:
    """What our cursors hold: Postgres-storable strings and 64-bit integers. Anything else is
    crafted, and would fail at the database (a 500) rather than here."""
    if isinstance(value, str):
        return unstorable(value) is None
    return isinstance(value, int) and not isinstance(value, bool) and -_INT64 <= value < _INT64
