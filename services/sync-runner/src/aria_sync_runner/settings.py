from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode

from aria_platform.settings import ServiceSettings, load_settings


class SyncRunnerSettings(ServiceSettings):
    service_name: str = "sync-runner"
    http_port: int = 8004
    vault_gateway_url: str = "http://127.0.0.1:8003"
    # Hosts (names or IPs, or CIDR ranges) connectors may reach even though they resolve to
    # private/loopback addresses. ARIA_OUTBOUND_ALLOWLIST=127.0.0.1,localhost for the local stack.
    outbound_allowlist: Annotated[list[str], NoDecode] = []
    outbound_timeout_s: float = 30.0
    outbound_max_redirects: int = 5
    # Consumer group of sync requests; tests use their own so parallel runs do not steal messages.
    sync_group_id: str = "sync-runner.jobs"
    # A job that fails transiently (vendor 5xx, vault-gateway down, Kafka) is resumed from its
    # checkpoint this many times before it is marked failed.
    sync_max_retries: int = 2
    sync_retry_backoff_s: float = 2.0

    @field_validator("outbound_allowlist", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


def load() -> SyncRunnerSettings:
    return load_settings(SyncRunnerSettings)
