"""Public audit evidence per installation (viewer reads): credential audit and webhook deliveries.
Push outcomes are the action runs (actions/views.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.problems import MEDIA_TYPE
from aria_platform.runtime import Runtime, get_runtime

from ..deps import InstallerDeps
from . import service

router = APIRouter(prefix="/v1/installations", tags=["audit"])
_PROBLEMS = {status: {"content": {MEDIA_TYPE: {}}, "description": text} for status, text in {
    400: "invalid_cursor", 404: "not_found (no such installation in your organization)",
    502: "audit_unavailable", 503: "dependency_unavailable"}.items()}


class CredentialAuditEntry(BaseModel):
    id: int
    credential_ref: uuid.UUID | None = Field(description="The credential's reference; never a secret value.")
    action: str = Field(description="store, lease, rotate, revert, shred…")
    actor: str = Field(description="The calling service (service:sync-runner), the scheduler or the lifecycle event.")
    outcome: str = Field(description="ok, denied or failed")
    reason: str | None
    at: datetime


class CredentialAuditPage(BaseModel):
    items: list[CredentialAuditEntry]
    next_cursor: str | None


class WebhookDelivery(BaseModel):
    id: int
    delivery_id: str | None = Field(description="The vendor's delivery id header, where it sends one.")
    payload_sha256: str | None = Field(description="SHA-256 of the body (the body itself is never kept).")
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None = Field(description="Why a delivery was rejected or counted as a duplicate.")
    event_count: int
    received_at: datetime


class WebhookDeliveryPage(BaseModel):
    items: list[WebhookDelivery]
    next_cursor: str | None


@router.get("/{installation_id}/credential-audit", response_model=CredentialAuditPage, responses=_PROBLEMS,
            summary="Credential audit: every store, lease, rotation and shred of the installation's secrets",
            description="From vault-gateway's audit trail, newest first; never a value. Cursor pagination: pass "
                        "`next_cursor` back as `cursor`.")
async def credential_audit(installation_id: uuid.UUID, cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                           rt: Runtime = Depends(get_runtime),
                           principal: Principal = Depends(require_role("viewer"))) -> dict:
    return await service.credential_audit(pool=rt.pool, vault_gateway=rt.deps_of(InstallerDeps).vault_gateway,
                                          principal=principal, installation_id=installation_id, cursor=cursor,
                                          limit=limit)


@router.get("/{installation_id}/webhook-deliveries", response_model=WebhookDeliveryPage, responses=_PROBLEMS,
            summary="Webhook deliveries: every vendor delivery that reached the installation",
            description="From webhook-ingest, newest first: accepted, duplicate or rejected with the reason and "
                        "the body's hash (never the body). Cursor pagination: pass `next_cursor` back as `cursor`.")
async def webhook_deliveries(installation_id: uuid.UUID, cursor: str | None = None,
                             limit: int = Query(50, ge=1, le=200), rt: Runtime = Depends(get_runtime),
                             principal: Principal = Depends(require_role("viewer"))) -> dict:
    return await service.webhook_deliveries(pool=rt.pool, webhook_ingest=rt.deps_of(InstallerDeps).webhook_ingest,
                                            principal=principal, installation_id=installation_id, cursor=cursor,
                                            limit=limit)
