"""Settings every service shares; each service subclasses ServiceSettings with its own fields."""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARIA_", extra="ignore")

    service_name: str
    database_url: str
    kafka_bootstrap: str = "127.0.0.1:9092"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Processes serving HTTP (each also runs the subscribers and outbox relay; Kafka groups share
    # the subscribers' work, and the relays take turns: one publishes at a time, see outbox.py).
    http_workers: int = 1
    log_level: str = "INFO"
    # HS256 key for local use; production sets jwt_jwks_url instead.
    jwt_secret: SecretStr | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "aria"
    jwt_audience: str = "aria-marketplace"
    outbox_poll_interval_s: float = 1.0
    # Prepended to every consumer group: lets test runs or staging stacks share one Kafka cluster.
    kafka_group_prefix: str = ""
    shutdown_grace_s: float = 10.0
    # Rows of the service's log tables (ServiceDefinition.log_tables) older than this are purged,
    # checked every retention_interval_s; at most two years.
    retention_days: int = Field(default=90, ge=1, le=730)
    retention_interval_s: float = Field(default=3600.0, gt=0)


    def group(self, name: str) -> str:
        """The consumer group id for a subscriber named `name`."""
        return self.kafka_group_prefix + name


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S]) -> S:
    """Read settings from the environment; on a missing or bad value, say which and exit."""
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"invalid configuration for {cls.__name__}:"]
        for err in exc.errors():
            name = "ARIA_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {name}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
