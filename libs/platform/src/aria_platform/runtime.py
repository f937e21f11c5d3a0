"""What a running service holds: settings, Postgres pool, Kafka broker, outgoing HTTP client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

import asyncpg
import httpx
from fastapi import Request
from faststream import Context
from faststream.kafka import KafkaBroker

from .internal import InternalClient
from .settings import ServiceSettings

D = TypeVar("D")


@dataclass
class Runtime:
    settings: ServiceSettings
    pool: asyncpg.Pool
    broker: KafkaBroker
    http: httpx.AsyncClient
    # The service's own clients and caches: one object of a class the service defines, set by its
    # on_start hook (before the broker starts) and read back typed through deps_of.
    deps: object | None = None

    def deps_of(self, kind: type[D]) -> D:
        """The service's dependencies, checked to be the ``kind`` its on_start hook built."""
        if not isinstance(self.deps, kind):
            raise RuntimeError(f"{self.settings.service_name} has no {kind.__name__}: its on_start hook builds them")
        return self.deps

    def internal_client(self, base_url: str, *, target: str) -> InternalClient:
        """A client for another service's internal API, signed with this service's identity."""
        s = self.settings
        if s.jwt_secret is None:
            raise RuntimeError(f"{s.service_name} needs ARIA_JWT_SECRET to sign its service identity for {target}")
        return InternalClient(self.http, base_url, service=s.service_name, secret=s.jwt_secret.get_secret_value(),
                              issuer=s.jwt_issuer, audience=s.jwt_audience, target=target)


# A FastStream handler's ``runtime: RuntimeContext`` parameter: the app's Runtime from the broker context.
RuntimeContext = Annotated[Runtime, Context("runtime")]


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency; FastStream handlers take a RuntimeContext instead.

    async on purpose: FastAPI runs a plain-def dependency in a worker thread, a thread handoff on
    every request for an attribute read."""
    return request.app.state.runtime
