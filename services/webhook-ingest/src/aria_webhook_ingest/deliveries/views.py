"""HTTP adapters: the public vendor endpoint (signature auth) and the internal delivery log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aria_platform.auth import Principal, require_service
from aria_platform.problems import MEDIA_TYPE, Problem
from aria_platform.runtime import Runtime, get_runtime

from ..deps import WebhookIngestDeps
from . import service

public = APIRouter(tags=["webhooks (public)"])
internal = APIRouter(prefix="/internal/v1", tags=["deliveries (internal)"])


class Accepted(BaseModel):
    status: Literal["accepted", "duplicate"]
    delivery_id: str
    events: int | None = None


class DeliveryOut(BaseModel):
    id: int
    installation_id: uuid.UUID
    org_id: uuid.UUID
    delivery_id: str | None
    payload_sha256: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    reason: str | None
    event_count: int
    received_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _read_bounded(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as more than `limit` bytes arrive (never reads it all)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


_PROBLEMS = {status: {"content": {MEDIA_TYPE: {}}, "description": text} for status, text in {
    400: "malformed_payload / invalid_content_length", 401: "invalid_signature / signing_secret_unavailable",
    404: "webhook_endpoint_not_found", 413: "payload_too_large", 415: "unsupported_media_type",
    429: "rate_limited (Retry-After)", 503: "kafka_unavailable / dependency_unavailable (Retry-After)"}.items()}

# The installation id is read from the path, not declared as a parameter: the endpoint is a direct
# route (main.py), which takes the Request alone, and even through FastAPI a declared path
# parameter's validation cost ~18 µs per request. The endpoint parses it as a UUID itself (else
# 404), so it is only documented here.
_INSTALLATION_ID = {"name": "installation_id", "in": "path", "required": True,
                    "schema": {"type": "string", "format": "uuid", "title": "Installation Id"}}


RECEIVE = "receive_webhook"


@public.post("/v1/webhooks/{installation_id}", name=RECEIVE, status_code=202, response_model=Accepted,
             responses={200: {"model": Accepted, "description": "duplicate delivery (nothing published)"},
                        **_PROBLEMS},
             summary="Receive a vendor webhook (authenticated by the vendor's signature, not a bearer token)",
             openapi_extra={"parameters": [_INSTALLATION_ID]})
async def receive(request: Request) -> JSONResponse:
    # The runtime straight from the app, not Depends(get_runtime): FastAPI runs a sync dependency
    # in the thread pool, a thread hop per delivery on the hottest path.
    rt: Runtime = request.app.state.runtime
    deps = rt.deps_of(WebhookIngestDeps)
    try:
        inst = uuid.UUID(request.path_params["installation_id"])
    except ValueError:
        raise service.endpoint_not_found() from None
    endpoint, plugin = await service.admit(endpoints=deps.endpoints, limiter=deps.limiter, installation_id=inst)
    spec = plugin.manifest.webhook
    delivery_header = request.headers.get(spec.delivery_id_header) if spec.delivery_id_header else None
    delivery_id = delivery_header.strip()[:200] if delivery_header else None

    async def rejected(status: int, code: str, title: str, detail: str) -> Problem:
        return await service.reject(pool=rt.pool, endpoint=endpoint, status=status, code=code, title=title,
                                    detail=detail, delivery_id=delivery_id)

    if not _is_json(request.headers.get("content-type")):
        raise await rejected(415, "unsupported_media_type", "Unsupported media type",
                             "send the webhook as application/json")
    limit = rt.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and not declared.strip().isdigit():
        raise await rejected(400, "invalid_content_length", "Invalid Content-Length", "Content-Length is not a number")
    if declared is not None and int(declared) > limit:
        raise await rejected(413, "payload_too_large", "Payload too large", f"the body exceeds {limit} bytes")
    body = await _read_bounded(request, limit)
    if body is None:
        raise await rejected(413, "payload_too_large", "Payload too large", f"the body exceeds {limit} bytes")

    outcome = await service.receive(pool=rt.pool, commits=deps.commits, http=rt.http,
                                    secrets=deps.secrets, endpoint=endpoint, plugin=plugin,
                                    headers=request.headers, body=body,
                                    max_events=rt.settings.max_events_per_delivery)
    return JSONResponse(outcome.body, status_code=outcome.status_code)


@internal.get("/installations/{installation_id}/deliveries", response_model=DeliveryPage,
              summary="Webhook deliveries of an installation, newest first (cursor pagination)")
async def deliveries(installation_id: uuid.UUID, limit: int = Query(50, ge=1, le=500),
                     cursor: str | None = Query(None, description="next_cursor of the previous page"),
                     org_id: uuid.UUID | None = Query(None, description="Only if the installation belongs to it"),
                     rt: Runtime = Depends(get_runtime),
                     caller: Principal = Depends(require_service("installer"))) -> dict:
    return await service.list_deliveries(pool=rt.pool, installation_id=installation_id, org_id=org_id,
                                         cursor=cursor, limit=limit)
