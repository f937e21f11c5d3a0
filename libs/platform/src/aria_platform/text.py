"""Text Postgres can store. JSON allows a NUL character and lone surrogates (\\u0000, \\ud800);
Postgres text refuses the first and asyncpg cannot encode the second, so either, let through,
fails at the database as a 500 (sometimes after another system was already written to). Input
is checked where it enters instead: a 422 naming the field, never echoing the value."""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator


def unstorable(value: str) -> str | None:
    """Why Postgres cannot store this string, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode()
    except UnicodeEncodeError:
        return "contains a lone surrogate"
    return None


def _storable(value: str) -> str:
    if (reason := unstorable(value)) is not None:
        raise ValueError(reason)
    return value


# Last in an Annotated string's metadata (after StringConstraints, which it must not precede).
Storable = AfterValidator(_storable)


def first_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """(JSON pointer, reason) of the first key or string in a JSON value that Postgres cannot store."""
    if isinstance(value, str):
        reason = unstorable(value)
        return (path, reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            if (reason := unstorable(str(key))) is not None:
                return path or "/", f"a key {reason}"  # the key itself cannot be echoed safely
            if (found := first_unstorable(item, f"{path}/{key}")) is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            if (found := first_unstorable(item, f"{path}/{n}")) is not None:
                return found
    return None
