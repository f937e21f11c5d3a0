"""Public API of outbound webhooks: /v1/outbound-endpoints (viewer reads, operator replays, admin changes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import AwareDatetime, BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.problems import MEDIA_TYPE
from aria_platform.runtime import Runtime, get_runtime

from ..deps import WebhookIngestDeps
from . import service

router = APIRouter(prefix="/v1/outbound-endpoints", tags=["outbound webhooks"])
EventType = Literal["risk.observed", "alert.observed", "vulnerability.observed", "asset.observed",
                    "indicator.observed", "ticket.observed"]
_PROBLEMS = {status: {"content": {MEDIA_TYPE: {}}, "description": text} for status, text in {
    400: "invalid_cursor", 401: "missing_token / invalid_token", 403: "insufficient_role", 404: "not_found",
    422: "validation_error / outbound_url_invalid / outbound_url_forbidden / outbound_url_unresolvable / "
         "unknown_event_type",
    503: "dependency_unavailable (vault-gateway; Retry-After)"}.items()}


class EndpointIn(BaseModel):
    url: str = Field(max_length=service.MAX_URL_LENGTH, description="https URL that resolves to public addresses only")
    event_types: list[EventType] = Field(min_length=1)
    description: str = Field(default="", max_length=500)


class EndpointPatch(BaseModel):
    url: str | None = Field(default=None, max_length=service.MAX_URL_LENGTH)
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(default=None, description="true turns a disabled endpoint back on (failures forgotten)")


class EndpointOut(BaseModel):
    id: uuid.UUID
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    previous_secret_until: datetime | None = Field(description="End of a rotation's overlap: until then deliveries "
                                                               "carry a signature with the previous secret too")
    failing_since: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime


class EndpointWithSecret(EndpointOut):
    secret: str = Field(description="Signing secret (whsec_...): shown only in this answer, keep it safe")


class EndpointPage(BaseModel):
    items: list[EndpointOut]
    next_cursor: str | None


class RotateIn(BaseModel):
    overlap_s: int = Field(default=86_400, ge=0, le=service.MAX_OVERLAP_S,
                           description="How long the previous secret keeps signing (a second signature)")


class DeliveryOut(BaseModel):
    id: uuid.UUID
    message_id: str = Field(description="The webhook-id header: the same for every attempt and replay of an event")
    event_id: uuid.UUID
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    replay_of: uuid.UUID | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class ReplayRange(BaseModel):
    since: AwareDatetime
    until: AwareDatetime


class Replayed(BaseModel):
    queued: int


class AuditOut(BaseModel):
    id: int
    action: str
    actor: str
    detail: str | None
    at: datetime


def _endpoint(row) -> EndpointOut:
    return EndpointOut(**{k: row[k] for k in EndpointOut.model_fields})


def _delivery(row) -> DeliveryOut:
    values = {k: row[k] for k in DeliveryOut.model_fields}
    if row["status"] != "pending":
        values["next_attempt_at"] = None
    return DeliveryOut(**values)


def _allow_http(rt: Runtime) -> bool:
    return bool(rt.settings.outbound_webhook_allow_hosts)


@router.get("", response_model=EndpointPage, responses=_PROBLEMS, summary="The organization's outbound endpoints")
async def list_endpoints(limit: int = Query(50, ge=1, le=200), cursor: str | None = Query(None),
                         rt: Runtime = Depends(get_runtime), user: Principal = Depends(require_role("viewer"))):
    page = await service.list_endpoints(pool=rt.pool, org_id=user.org_id, cursor=cursor, limit=limit)
    return EndpointPage(items=[_endpoint(r) for r in page["items"]], next_cursor=page["next_cursor"])


@router.post("", status_code=201, response_model=EndpointWithSecret, responses=_PROBLEMS,
             summary="Subscribe an HTTPS endpoint to event types (the signing secret is in this answer only)")
async def create_endpoint(body: EndpointIn, rt: Runtime = Depends(get_runtime),
                          user: Principal = Depends(require_role("admin"))):
    deps = rt.deps_of(WebhookIngestDeps)
    row, secret = await service.create_endpoint(
        pool=rt.pool, vault=deps.vault_gateway, guard=deps.guard, actor=user.subject, org_id=user.org_id,
        url=body.url, description=body.description, event_types=list(body.event_types),
        allowlisted_http=_allow_http(rt))
    deps.subscriptions.forget(user.org_id)
    return EndpointWithSecret(**_endpoint(row).model_dump(), secret=secret)


@router.get("/{endpoint_id}", response_model=EndpointOut, responses=_PROBLEMS, summary="One outbound endpoint")
async def get_endpoint(endpoint_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                       user: Principal = Depends(require_role("viewer"))):
    return _endpoint(await service.get_endpoint(pool=rt.pool, org_id=user.org_id, endpoint_id=endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointOut, responses=_PROBLEMS,
              summary="Change an endpoint's URL, event types or description, or turn it off or back on")
async def update_endpoint(endpoint_id: uuid.UUID, body: EndpointPatch, rt: Runtime = Depends(get_runtime),
                          user: Principal = Depends(require_role("admin"))):
    deps = rt.deps_of(WebhookIngestDeps)
    row = await service.update_endpoint(
        pool=rt.pool, guard=deps.guard, actor=user.subject, org_id=user.org_id, endpoint_id=endpoint_id,
        url=body.url, description=body.description,
        event_types=list(body.event_types) if body.event_types is not None else None, enabled=body.enabled,
        allowlisted_http=_allow_http(rt))
    deps.subscriptions.forget(user.org_id)
    if body.enabled:
        deps.sender.wake()
    return _endpoint(row)


@router.delete("/{endpoint_id}", status_code=204, responses=_PROBLEMS,
               summary="Delete an endpoint, its delivery log and (crypto-shredded) signing secret")
async def delete_endpoint(endpoint_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                          user: Principal = Depends(require_role("admin"))) -> Response:
    deps = rt.deps_of(WebhookIngestDeps)
    await service.delete_endpoint(pool=rt.pool, vault=deps.vault_gateway, actor=user.subject, org_id=user.org_id,
                                  endpoint_id=endpoint_id)
    deps.subscriptions.forget(user.org_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=EndpointWithSecret, responses=_PROBLEMS,
             summary="New signing secret (in this answer only); the previous one also signs during the overlap")
async def rotate_secret(endpoint_id: uuid.UUID, body: RotateIn | None = None, rt: Runtime = Depends(get_runtime),
                        user: Principal = Depends(require_role("admin"))):
    deps = rt.deps_of(WebhookIngestDeps)
    row, secret = await service.rotate_secret(
        pool=rt.pool, vault=deps.vault_gateway, secrets_cache=deps.outbound_secrets, actor=user.subject,
        org_id=user.org_id, endpoint_id=endpoint_id, overlap_s=(body or RotateIn()).overlap_s)
    return EndpointWithSecret(**_endpoint(row).model_dump(), secret=secret)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryPage, responses=_PROBLEMS,
            summary="The endpoint's deliveries, newest first (cursor pagination)")
async def list_deliveries(endpoint_id: uuid.UUID, limit: int = Query(50, ge=1, le=500),
                          cursor: str | None = Query(None, description="next_cursor of the previous page"),
                          status: Literal["pending", "delivered", "failed"] | None = Query(None),
                          rt: Runtime = Depends(get_runtime), user: Principal = Depends(require_role("viewer"))):
    page = await service.list_deliveries(pool=rt.pool, org_id=user.org_id, endpoint_id=endpoint_id, status=status,
                                         cursor=cursor, limit=limit)
    return DeliveryPage(items=[_delivery(r) for r in page["items"]], next_cursor=page["next_cursor"])


@router.post("/{endpoint_id}/deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryOut,
             responses=_PROBLEMS, summary="Send a delivery's event again (same webhook-id)")
async def replay_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                          user: Principal = Depends(require_role("operator"))):
    row = await service.replay_delivery(pool=rt.pool, actor=user.subject, org_id=user.org_id,
                                        endpoint_id=endpoint_id, delivery_id=delivery_id)
    rt.deps_of(WebhookIngestDeps).sender.wake()
    return _delivery(row)


@router.post("/{endpoint_id}/replay", status_code=202, response_model=Replayed, responses=_PROBLEMS,
             summary=f"Send again every event first queued for the endpoint in [since, until) "
                     f"(at most {service.MAX_REPLAY})")
async def replay_range(endpoint_id: uuid.UUID, body: ReplayRange, rt: Runtime = Depends(get_runtime),
                       user: Principal = Depends(require_role("operator"))):
    count = await service.replay_range(pool=rt.pool, actor=user.subject, org_id=user.org_id,
                                       endpoint_id=endpoint_id, since=body.since, until=body.until)
    rt.deps_of(WebhookIngestDeps).sender.wake()
    return Replayed(queued=count)


@router.get("/{endpoint_id}/audit", response_model=list[AuditOut], responses=_PROBLEMS,
            summary="Who changed the endpoint, and when the service disabled it")
async def audit(endpoint_id: uuid.UUID, limit: int = Query(100, ge=1, le=1000), rt: Runtime = Depends(get_runtime),
                user: Principal = Depends(require_role("viewer"))):
    rows = await service.audit_trail(pool=rt.pool, org_id=user.org_id, endpoint_id=endpoint_id, limit=limit)
    return [AuditOut(**dict(r)) for r in rows]
