"""The vocabulary of user data mappings: transformation rules and filter rules.

Field mappings reuse the connector SDK's FieldSpec (a path, several paths, a constant, a value
map...), so a user mapping has the same shape as a manifest mapping. Rules are data, checked
here; applying them to records at sync time belongs to sync-runner (not built yet).

Semantics, for whoever applies them: filter rules are ANDed over the vendor record (a record is
kept when every rule holds); transformation rules run in order on the mapped target fields.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Scalar = str | int | float | bool


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_regex(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc.msg})") from None
    return pattern


# --- transformations: on a target field, after mapping ------------------------------------------


class CaseRule(_Rule):
    field: str = Field(min_length=1, max_length=64, description="Target field.")
    op: Literal["lower", "upper", "trim"]


class AffixRule(_Rule):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["prefix", "suffix"]
    value: str = Field(min_length=1, max_length=200)


class ReplaceRule(_Rule):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["replace"]
    pattern: str = Field(min_length=1, max_length=200, description="Regular expression.")
    value: str = Field(max_length=200, description="Replacement (\\1 refers to a group).")

    _valid = field_validator("pattern")(_check_regex)


class TruncateRule(_Rule):
    field: str = Field(min_length=1, max_length=64)
    op: Literal["truncate"]
    length: int = Field(ge=1, le=10_000)


TransformRule = Annotated[CaseRule | AffixRule | ReplaceRule | TruncateRule, Field(discriminator="op")]


# --- filters: on the vendor record, before mapping ----------------------------------------------


class PresenceFilter(_Rule):
    path: str = Field(min_length=1, max_length=200, description="Vendor record path, e.g. 'device.platform_name'.")
    op: Literal["exists", "missing"]


class CompareFilter(_Rule):
    path: str = Field(min_length=1, max_length=200)
    op: Literal["eq", "ne", "gt", "gte", "lt", "lte"]
    value: Scalar


class MemberFilter(_Rule):
    path: str = Field(min_length=1, max_length=200)
    op: Literal["in", "not_in"]
    value: list[Scalar] = Field(min_length=1, max_length=100)


class TextFilter(_Rule):
    path: str = Field(min_length=1, max_length=200)
    op: Literal["contains", "matches"]
    value: str = Field(min_length=1, max_length=200, description="Substring, or a regular expression for 'matches'.")

    @field_validator("value")
    @classmethod
    def _regex(cls, value: str, info) -> str:
        return _check_regex(value) if info.data.get("op") == "matches" else value


FilterRule = Annotated[PresenceFilter | CompareFilter | MemberFilter | TextFilter, Field(discriminator="op")]
