"""A JSON body encoded once, with the strong ETag of its exact bytes.

Cached answers keep their encoding: a hit is sent without serializing or hashing the body again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class JsonEntity:
    payload: bytes
    etag: str

    @classmethod
    def of(cls, body: Any) -> JsonEntity:
        return cls.of_payload(dumps(body))

    @classmethod
    def of_payload(cls, payload: bytes) -> JsonEntity:
        return cls(payload, '"' + hashlib.sha256(payload).hexdigest()[:32] + '"')


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=str)  # asyncpg returns its own UUID type
