"""Internal HTTP API: test a connection (installer's wizard calls this before enabling)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_service
from aria_platform.runtime import Runtime, get_runtime

from . import service

router = APIRouter(prefix="/internal/v1", tags=["connections (internal)"])


class TestConnectionRequest(BaseModel):
    org_id: uuid.UUID
    installation_id: uuid.UUID
    integration_key: str = Field(max_length=128)
    settings: dict[str, Any] = Field(default_factory=dict, description="Non-secret settings.")
    credential_ref: str | None = Field(default=None, description="Secrets are leased from vault-gateway by reference.")


class TestConnectionResult(BaseModel):
    ok: bool
    latency_ms: float
    message: str
    error_class: str | None


@router.post("/test-connection", response_model=TestConnectionResult,
             summary="Call the vendor with an installation's configuration and leased credential")
async def test_connection(body: TestConnectionRequest, rt: Runtime = Depends(get_runtime),
                          caller: Principal = Depends(require_service("installer"))) -> dict:
    return await service.test_connection(
        outbound=rt.extras["outbound"], vault_gateway=rt.extras["vault_gateway"], org_id=body.org_id,
        installation_id=body.installation_id, integration_key=body.integration_key, settings=body.settings,
        credential_ref=body.credential_ref)
