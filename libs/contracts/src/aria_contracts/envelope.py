"""The one envelope every event travels in (see docs/architecture.md, "Events")."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class EventPayload(BaseModel):
    """Base of every event body. Subclasses name their event type and topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    schema_version: ClassVar[int] = 1

    def partition_key(self) -> str:
        """Key the event is partitioned (and, on compacted topics, compacted) by."""
        raise NotImplementedError

    def dedup_key(self) -> str:
        """Deterministic key: the same business fact always yields the same key."""
        raise NotImplementedError


class Envelope(BaseModel):
    """Metadata around a payload. `data` holds the payload as a plain JSON object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    source: str = Field(description="Service that published the event, e.g. 'sync-runner'.")
    time: datetime = Field(default_factory=utcnow)
    org_id: uuid.UUID
    installation_id: uuid.UUID | None = None
    schema_version: int = 1
    traceparent: str | None = Field(default=None, description="W3C trace context of the producer.")
    tracestate: str | None = None
    dedup_key: str
    key: str = Field(description="Kafka message key (partitioning / compaction).")
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        source: str,
        org_id: uuid.UUID,
        installation_id: uuid.UUID | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
    ) -> "Envelope":
        return cls(
            type=payload.event_type,
            source=source,
            org_id=org_id,
            installation_id=installation_id,
            schema_version=payload.schema_version,
            traceparent=traceparent,
            tracestate=tracestate,
            dedup_key=payload.dedup_key(),
            key=payload.partition_key(),
            data=payload.model_dump(mode="json"),
        )

    def payload(self, model: type[EventPayload]) -> EventPayload:
        if model.event_type != self.type:
            raise ValueError(f"envelope holds {self.type!r}, not {model.event_type!r}")
        return model.model_validate(self.data)
