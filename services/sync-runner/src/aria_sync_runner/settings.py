import os
import socket
import uuid
from typing import Annotated, Literal

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
    # A connection test (retries included) ends by then with "the vendor did not answer": below the
    # installer's call timeout (aria_platform.app.HTTP_TIMEOUT_S), which would otherwise name
    # sync-runner as the one not answering.
    connection_test_timeout_s: float = 8.0
    outbound_max_redirects: int = 5
    # Consumer group of sync requests; tests use their own so parallel runs do not steal messages.
    sync_group_id: str = "sync-runner.jobs"
    # A job that fails transiently (vendor 5xx, vault-gateway down, Kafka) is resumed from its
    # checkpoint this many times before it is marked failed.
    sync_max_retries: int = 2
    sync_retry_backoff_s: float = 2.0
    # Sync requests older than this are skipped (see jobs.service.accept_request).
    sync_request_max_age_s: float = 3600.0
    lifecycle_group_id: str = "sync-runner.schedules"
    # On-demand actions (action.requested), and the risks / alerts they may name by entity id.
    actions_group_id: str = "sync-runner.actions"
    action_entities_group_id: str = "sync-runner.action-entities"
    # Where a new entity group starts: earliest (every entity's newest state on the compacted
    # topics, the default), or latest where the broker's history is not this platform's (tests
    # sharing one broker across runs).
    action_entities_offset_reset: Literal["earliest", "latest"] = "earliest"
    # Automation rules (aria.automation.rules): an execution failing transiently is tried again
    # after rule_retry_backoff_s * 2**(attempt-1) (at most rule_retry_backoff_max_s), and
    # dead-lettered after rule_max_attempts; due retries are looked for every rule_retry_poll_s.
    rules_group_id: str = "sync-runner.rules"
    rule_max_attempts: int = 5
    rule_retry_backoff_s: float = 30.0
    rule_retry_backoff_max_s: float = 3600.0
    rule_retry_poll_s: float = 1.0
    # Push actions per target installation and replica when its connector declares no rate budget.
    action_rate_per_minute: int = 60
    action_rate_burst: int = 10
    # Which replica holds a job (claimed_by). Default: host name + pid + random, unique per process.
    replica_id: str = ""
    # How often a replica looks for due schedules and claimable jobs.
    worker_poll_interval_s: float = 1.0
    # A running job's heartbeat is refreshed this often; a job whose heartbeat is older than
    # job_lease_s belongs to a replica that is gone, and another replica resumes it.
    heartbeat_interval_s: float = 5.0
    job_lease_s: float = 30.0
    # Running jobs across all replicas, and per connector (vendor).
    max_concurrent_jobs: int = 8
    max_concurrent_jobs_per_vendor: int = 4
    # Processes per replica that run a job's other streams (a connector's streams are independent)
    # while the replica runs its first, each on its own core; 0 runs every stream in the replica.
    stream_workers: int = 1
    # Scheduled syncs start at interval * (1 + random(0, jitter)) so installations do not stampede.
    schedule_jitter_fraction: float = 0.1
    realtime_interval_s: float = 60.0
    # Health checks of enabled installations (each vendor call bounded by health_check_timeout_s).
    health_check_interval_s: float = 300.0
    health_check_timeout_s: float = 0.5
    # A checked installation's connector instance (leased secret, OAuth2 token) is reused for this
    # long, so a check is one vendor call (see health.service.Instances for what that trades).
    health_credential_ttl_s: float = 900.0

    @field_validator("outbound_allowlist", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


    def resolved_replica_id(self) -> str:
        return self.replica_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def load() -> SyncRunnerSettings:
    return load_settings(SyncRunnerSettings)
