"""Value types exchanged between the SDK and the services."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from aria_contracts.events import DomainEntity

if TYPE_CHECKING:
    from .data_mappings import MappingSet


@dataclass(frozen=True)
class InstallationContext:
    org_id: uuid.UUID
    installation_id: uuid.UUID
    integration_key: str


@dataclass(frozen=True)
class ConfigError:
    path: str
    message: str


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    latency_ms: float
    message: str
    error_class: str | None = None


@dataclass(frozen=True)
class AuthenticationResult:
    """``expires_at`` is when the credential the instance now holds stops working (OAuth2 tokens);
    None for static credentials (API keys, basic), which the vendor accepted just now."""

    ok: bool
    method: str
    expires_at: datetime | None = None
    message: str = ""
    error_class: str | None = None


@dataclass(frozen=True)
class HealthStatus:
    status: Literal["healthy", "degraded", "down"]
    latency_ms: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordError:
    stream: str
    external_id: str | None
    reason: str


@dataclass
class SyncBatch:
    stream: str
    events: list[DomainEntity]
    checkpoint: dict[str, Any]
    record_errors: list[RecordError] = field(default_factory=list)
    stream_total: int | None = None
    """Records the stream has to read in this run, where the vendor reports a total (progress)."""
    stream_read: int = 0
    """Records of the stream read so far in this run."""


@dataclass
class SyncResult:
    """What a whole sync did (``drain_sync``): ``processed`` = created + updated + failed records;
    ``created``/``updated`` split the published events by whether their entity id was known before."""

    processed: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    record_errors: list[RecordError] = field(default_factory=list)
    checkpoint: dict[str, Any] | None = None
    batches: int = 0


@dataclass
class QueryResult:
    """An ad-hoc read of one stream (``query``): at most ``limit`` events; ``truncated`` when more exist."""

    events: list[DomainEntity]
    record_errors: list[RecordError] = field(default_factory=list)
    truncated: bool = False


@dataclass(frozen=True)
class WebhookVerdict:
    ok: bool
    delivery_id: str
    reason: str | None = None
    challenge_response: dict[str, Any] | None = None
    replay_key: str | None = None  # of a verified delivery: the hash of what its signature covers


@dataclass
class WebhookParseResult:
    events: list[DomainEntity]
    record_errors: list[RecordError] = field(default_factory=list)


@dataclass
class WebhookResult:
    """``handle_webhook``: the verification verdict and, when it passed, the parsed events."""

    verdict: WebhookVerdict
    events: list[DomainEntity] = field(default_factory=list)
    record_errors: list[RecordError] = field(default_factory=list)


@dataclass(frozen=True)
class RuntimeOptions:
    """Knobs a caller may override per instance (tests make delays tiny).

    ``None`` means "use the manifest's rate_limits value".
    """

    max_retries: int | None = None
    backoff_base_seconds: float | None = None
    backoff_max_seconds: float | None = None
    max_retry_after_seconds: float | None = None
    page_size: int | None = None
    request_timeout_seconds: float = 30.0
    rate_limits: dict[str, Any] | None = None
    """Fields of the manifest's ``rate_limits`` this instance replaces: the installation's own
    plan budget (e.g. ``{"requests_per_minute": 400}``), or ``None`` values to lift a budget."""
    mappings: MappingSet | None = None
    """The installation's data mappings; ``None`` uses the connector's default mappings."""


@dataclass(frozen=True)
class PushRequest:
    """What to push. ``event`` for send_event / create_ticket actions (a contract entity);
    ``vendor_id`` (the vendor's id of the ticket) plus ``changes`` or ``comment`` for
    update_ticket / add_comment. ``external_ref`` defaults to the event's entity id and is the
    reference lookup-before-create searches for; ``idempotency_key`` defaults to a key derived
    from installation, action and reference, so a re-delivered request is recognised."""

    event: DomainEntity | None = None
    vendor_id: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    external_ref: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PushResult:
    vendor_id: str
    status: Literal["sent", "created", "updated", "duplicate"]
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class PreviewResult:
    """A dry-run of a sync: nothing was published, no checkpoint was produced."""

    counts: dict[str, int]
    samples: dict[str, list[DomainEntity]]
    record_errors: list[RecordError] = field(default_factory=list)
    pages: dict[str, int] = field(default_factory=dict)
    truncated: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "samples": {k: [e.model_dump(mode="json") for e in v] for k, v in self.samples.items()},
            "record_errors": [{"stream": e.stream, "external_id": e.external_id, "reason": e.reason}
                              for e in self.record_errors],
            "pages": dict(self.pages),
            "truncated": self.truncated,
        }


# The SDK re-exports every one of these (aria_connectors.sdk, aria_connectors).
__all__ = [
    "AuthenticationResult", "ConfigError", "ConnectionTestResult", "HealthStatus", "InstallationContext",
    "PreviewResult", "PushRequest", "PushResult", "QueryResult", "RecordError", "RuntimeOptions", "SyncBatch",
    "SyncResult", "WebhookParseResult", "WebhookResult", "WebhookVerdict",
]
