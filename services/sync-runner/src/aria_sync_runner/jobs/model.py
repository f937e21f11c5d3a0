"""A sync job as the code past repo.py sees it: typed attributes instead of row keys.

A pydantic model rather than a dataclass because a job crosses a process boundary (a stream
worker gets it over its socket as JSON) and comes back with its UUIDs and datetimes parsed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class SyncJobSummary(BaseModel):
    """What installer sees of a job (the internal jobs API's answer)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    installation_id: uuid.UUID
    integration_key: str
    request_id: uuid.UUID
    sync_type: str
    status: str
    progress_percent: int
    total_records: int | None
    processed_records: int
    failed_records: int
    published_events: int
    started_at: datetime | None
    completed_at: datetime | None
    retry_count: int
    max_retries: int
    error_class: str | None
    error_message: str | None
    triggered_by: str
    config_version: int | None
    connector_version: str | None
    cancel_requested: bool
    next_sync_at: datetime | None
    # Events published per entity type ({"risk": 30, "asset": 12}).
    entity_counts: dict[str, int] = {}
    created_at: datetime
    updated_at: datetime


class SyncJob(SyncJobSummary):
    """One row of integration_sync_jobs (repo._COLUMNS); built by repo.py only: the summary plus
    what only the runner uses."""

    priority: int
    settings: dict[str, Any]
    credential_ref: str | None
    claimed_by: str | None
    traceparent: str | None
    # The set a sync-now request carried, as the event had it; None: the schedule's newest set.
    mappings: list[dict[str, Any]] | None
