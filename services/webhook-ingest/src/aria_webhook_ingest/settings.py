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


def load() -> WebhookIngestSettings:
    return load_settings(WebhookIngestSettings)
