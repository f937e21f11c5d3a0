from typing import Annotated

from pydantic import field_validator
from pydantic_settings import NoDecode

from aria_platform.settings import ServiceSettings, load_settings


class WebhookIngestSettings(ServiceSettings):
    service_name: str = "webhook-ingest"
    http_port: int = 8005
    vault_gateway_url: str = "http://127.0.0.1:8003"
    # Largest body accepted (Content-Length and bytes actually read); bigger → 413.
    max_body_bytes: int = 1024 * 1024
    # Events one delivery may publish: a body within max_body_bytes can hold thousands of tiny
    # records, each an event on Kafka; a vendor's real deliveries carry one or a few.
    max_events_per_delivery: int = 1000
    # Token bucket per installation, per process: sustained rate and burst. Over it → 429.
    rate_limit_per_s: float = 20.0
    rate_limit_burst: int = 50
    # How long a leased signing secret is reused before asking vault-gateway again.
    secret_cache_s: float = 30.0
    # Longest an endpoint row is reused from memory; changes invalidate it at once through
    # Postgres NOTIFY (endpoints/service.py LiveEndpoints), this only bounds a lost notification.
    endpoint_cache_s: float = 30.0
    # Kafka publish (acks=all) must finish within this; otherwise the batch is rolled back → 503.
    publish_timeout_s: float = 10.0
    # Group commit (deliveries/group_commit.py): at most this many deliveries per transaction and
    # Kafka round trip, this many batches in flight at once, and how long a batch that would start
    # while another one is still committing waits for company (0: never; an idle service never waits).
    commit_batch_max: int = 256
    commit_max_in_flight: int = 2
    commit_linger_s: float = 0.002
    # Consumer group that keeps webhook_endpoints current from the installation lifecycle topic.
    endpoints_group_id: str = "webhook-ingest.endpoints"

    # --- outbound webhooks (outbound/) ---
    # Consumer group that queues deliveries from the entity topics (starts at the latest offset).
    outbound_group_id: str = "webhook-ingest.outbound"
    # TEST ONLY, off by default: hosts (names, IPs or CIDR ranges) an outbound endpoint may use
    # although they resolve to private or loopback addresses, and over plain http. Never set in
    # production: it turns the SSRF guard off for these hosts. ARIA_OUTBOUND_WEBHOOK_ALLOW_HOSTS=127.0.0.1
    outbound_webhook_allow_hosts: Annotated[list[str], NoDecode] = []
    # A sender pass claims this many due deliveries and sends up to `concurrency` at once.
    outbound_batch: int = 200
    outbound_concurrency: int = 64
    outbound_timeout_s: float = 10.0
    outbound_poll_interval_s: float = 1.0
    # Retry n waits min(max, base * 2^(n-1)) * random(0.5..1); retries go on for retry_window_s
    # (26 h: at least a day), then the delivery is failed (replayable).
    outbound_backoff_base_s: float = 5.0
    outbound_backoff_max_s: float = 3600.0
    outbound_retry_window_s: float = 26 * 3600.0
    # An endpoint whose every delivery failed for this long is disabled (event + audit record).
    outbound_disable_after_s: float = 3 * 24 * 3600.0
    # Delivered and failed deliveries are kept (log, replay) this long.
    outbound_retention_s: float = 30 * 24 * 3600.0
    # An organization's endpoint list is reused this long by the fan-out (other replicas' changes).
    outbound_subscriptions_cache_s: float = 5.0

    @field_validator("outbound_webhook_allow_hosts", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value


def load() -> WebhookIngestSettings:
    return load_settings(WebhookIngestSettings)
