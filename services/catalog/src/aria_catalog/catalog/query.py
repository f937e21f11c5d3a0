"""What a catalog search asks for, and the opaque cursor that continues it. No I/O here."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

import orjson

from aria_platform.problems import Problem
from aria_platform.text import unstorable

SORTS = ("relevance", "name", "installs", "rating", "updated")
DIMENSIONS = ("category", "capability", "data_type", "auth_method", "pricing_model", "quality_tier")
QualityTier = Literal["gold", "silver", "bronze", "unrated"]  # migration 0009's check
QUALITY_TIERS: tuple[str, ...] = get_args(QualityTier)  # best first
_WORD = re.compile(r"[^\W_]+")
MAX_WORDS = 10


@dataclass(frozen=True)
class CatalogQuery:
    text: str | None = None
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)  # dimension → requested values
    official: bool | None = None
    community: bool | None = None
    beta: bool | None = None
    installed: bool | None = None
    include_deprecated: bool = False
    sort: str = "name"

    @property
    def tsquery(self) -> str | None:
        """Prefix full-text query: every word must match the start of a lexeme."""
        if self.text is None:
            return None
        return " & ".join(f"{w}:*" for w in _WORD.findall(self.text.lower())[:MAX_WORDS])

    def fingerprint(self) -> str:
        """Identifies the result set a cursor belongs to (filters + sort, not the page)."""
        data = {"t": self.text, "v": {k: sorted(v) for k, v in sorted(self.values.items()) if v},
                "o": self.official, "c": self.community, "b": self.beta, "i": self.installed,
                "d": self.include_deprecated, "s": self.sort}
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def build_query(*, q: str | None, values: dict[str, list[str]], official: bool | None, community: bool | None,
                beta: bool | None, installed: bool | None, include_deprecated: bool, sort: str | None,
                vocabulary: dict[str, set[str]]) -> CatalogQuery:
    """Validate a request's filters; unknown values are a 400, not an empty page."""
    text = (q or "").strip() or None
    if text is not None and not _WORD.search(text):
        raise Problem(400, "invalid_query", "Search text has no words",
                      "q must contain at least one letter or digit", parameter="q")
    if sort is not None and sort not in SORTS:
        raise Problem(400, "invalid_sort", "Unknown sort", f"sort must be one of: {', '.join(SORTS)}",
                      parameter="sort", allowed=list(SORTS))
    # Relevance needs search text; without it the most installed come first.
    effective_sort = sort or ("relevance" if text else "name")
    if effective_sort == "relevance" and text is None:
        effective_sort = "installs"
    cleaned: dict[str, tuple[str, ...]] = {}
    for dimension, raw in values.items():
        requested = tuple(sorted({v.strip() for item in raw for v in item.split(",") if v.strip()}))
        unknown = [v for v in requested if v not in vocabulary.get(dimension, set())]
        if unknown:
            raise Problem(400, "unknown_filter_value", "Unknown filter value",
                          f"{dimension} has no value {unknown[0]!r}", parameter=dimension,
                          allowed=sorted(vocabulary.get(dimension, set())))
        cleaned[dimension] = requested
    return CatalogQuery(text=text, values=cleaned, official=official, community=community, beta=beta,
                        installed=installed, include_deprecated=include_deprecated, sort=effective_sort)


def encode_cursor(query: CatalogQuery, sort_value: Any, key: str) -> str:
    if isinstance(sort_value, datetime):
        value: Any = sort_value.isoformat()
    elif isinstance(sort_value, Decimal):
        value = str(sort_value)
    else:
        value = sort_value
    raw = orjson.dumps({"v": 1, "f": query.fingerprint(), "a": value, "k": key})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _invalid_cursor(detail: str) -> Problem:
    return Problem(400, "invalid_cursor", "Invalid cursor", detail, parameter="cursor")


def _int4(value: Any) -> bool:
    """An integer the Postgres integer it is compared with can hold (a larger one fails there)."""
    return isinstance(value, int) and not isinstance(value, bool) and -2**31 <= value < 2**31


def decode_cursor(query: CatalogQuery, cursor: str) -> tuple[Any, str]:
    """(last sort value, last key) of the previous page; a cursor only continues its own search."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise _invalid_cursor("the cursor is not one this API issued") from None
    if (not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("k"), str) or "a" not in data
            or unstorable(data["k"]) is not None):
        raise _invalid_cursor("the cursor is not one this API issued")
    if data.get("f") != query.fingerprint():
        raise _invalid_cursor("the cursor belongs to a different search; repeat the same filters and sort")
    value = data["a"]
    try:
        if query.sort == "name" and isinstance(value, str) and unstorable(value) is None:
            return value, data["k"]
        if query.sort == "installs" and _int4(value):
            return value, data["k"]
        if query.sort in ("rating", "relevance") and isinstance(value, str) and len(value) <= 40:
            number = Decimal(value)
            if number.is_finite():  # NaN or Infinity never came from a page of ours
                return number, data["k"]
        if query.sort == "updated" and isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed, data["k"]
    except (InvalidOperation, ValueError):
        pass
    raise _invalid_cursor("the cursor is not one this API issued")
