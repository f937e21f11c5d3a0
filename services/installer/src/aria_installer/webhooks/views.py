"""Webhook settings API: viewers see the URL and whether a secret exists; admins rotate the secret."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from ..deps import InstallerDeps
from . import service

router = APIRouter(prefix="/v1/installations", tags=["webhooks"])


class WebhookSettings(BaseModel):
    supported: bool = Field(description="Whether the integration receives webhooks at all.")
    url: str | None = Field(description="Where the vendor posts (webhook-ingest).")
    signing_secret_configured: bool
    secret_source: Literal["webhook_signing", "connector"] | None = Field(
        description="webhook_signing: the installation's own rotated secret; connector: the secret field of the "
                    "configuration. The first wins when both exist.")
    signature_header: str | None
    last_rotated_at: datetime | None
    rotated_by: str | None


class RotatedSecret(BaseModel):
    url: str
    signing_secret: str = Field(description="Shown this once: paste it into the vendor's webhook settings.")
    signature_header: str
    rotated_at: datetime


@router.get("/{installation_id}/webhook", response_model=WebhookSettings, summary="Webhook URL and secret status")
async def get_webhook(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                      principal: Principal = Depends(require_role("viewer"))) -> dict:
    return await service.settings(pool=rt.pool, principal=principal, installation_id=installation_id,
                                  base_url=rt.settings.webhook_base_url)


@router.post("/{installation_id}/webhook/rotate-secret", response_model=RotatedSecret,
             summary="Generate a new signing secret (returned once; the old one stops working)",
             responses={422: {"description": "The integration does not receive webhooks"}})
async def rotate_secret(installation_id: uuid.UUID, response: Response, rt: Runtime = Depends(get_runtime),
                        principal: Principal = Depends(require_role("admin"))) -> dict:
    response.headers["Cache-Control"] = "no-store"
    return await service.rotate_secret(pool=rt.pool, vault_gateway=rt.deps_of(InstallerDeps).vault_gateway,
                                       principal=principal, installation_id=installation_id,
                                       base_url=rt.settings.webhook_base_url)
