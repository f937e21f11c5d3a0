"""What a running service holds: settings, Postgres pool, Kafka broker, outgoing HTTP client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from fastapi import Request
from faststream.kafka import KafkaBroker

from .settings import ServiceSettings


@dataclass
class Runtime:
    settings: ServiceSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    http: httpx.AsyncClient
    extras: dict[str, Any] = field(default_factory=dict)


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency; FastStream handlers use Context("runtime") instead."""
    return request.app.state.runtime
