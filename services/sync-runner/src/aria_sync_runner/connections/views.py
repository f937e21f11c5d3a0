"""Internal HTTP API: test a connection (installer's wizard calls this before enabling)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from aria_platform.auth import Principal, require_service
from aria_platform.runtime import Runtime, get_runtime

from ..deps import SyncRunnerDeps
from . import service

router = APIRouter(prefix="/internal/v1", tags=["connections (internal)"])


class TestConnectionRequest(BaseModel):
    org_id: uuid.UUID
    installation_id: uuid.UUID
    integration_key: str = Field(max_length=128)
    settings: dict[str, Any] = Field(default_factory=dict, description="Non-secret settings.")
    credential_ref: str | None = Field(default=None, description="Secrets are leased from vault-gateway by reference.")


class TestConnectionRequestWithSecrets(TestConnectionRequest):
    secrets: dict[str, SecretStr] | None = Field(
        default=None, max_length=50,
        description="Secrets not stored yet (the setup wizard's test before saving): used for this one call, "
                    "never stored, logged or returned. Given: credential_ref is ignored.")


class TestConnectionResult(BaseModel):
    ok: bool
    latency_ms: float
    message: str
    error_class: str | None


@router.post("/test-connection", response_model=TestConnectionResult,
             summary="Call the vendor with an installation's configuration and leased credential")
async def test_connection(body: TestConnectionRequestWithSecrets, rt: Runtime = Depends(get_runtime),
                          caller: Principal = Depends(require_service("installer"))) -> dict:
    deps = rt.deps_of(SyncRunnerDeps)
    unsaved = {k: v.get_secret_value() for k, v in body.secrets.items()} if body.secrets is not None else None
    return await service.test_connection(
        outbound=deps.outbound, vault_gateway=deps.vault_gateway, org_id=body.org_id,
        installation_id=body.installation_id, integration_key=body.integration_key, settings=body.settings,
        credential_ref=body.credential_ref, timeout_s=rt.settings.connection_test_timeout_s,
        unsaved_secrets=unsaved)


class PreviewRequest(TestConnectionRequest):
    max_pages: int = Field(default=2, ge=1, le=5, description="Pages read per stream.")
    mappings: list[dict[str, Any]] | None = Field(
        default=None, max_length=500, description="The installation's data mappings as the installer stores them; "
                                                  "omitted: the connector's defaults.")


class PreviewRecordError(BaseModel):
    stream: str
    external_id: str | None
    reason: str


class PreviewResult(BaseModel):
    model_config = ConfigDict(json_schema_extra={"description": "Nothing was published and no checkpoint saved."})

    counts: dict[str, int] = Field(description="Events per entity type.")
    samples: dict[str, list[dict[str, Any]]] = Field(description="Up to 5 contract events per entity type.")
    record_errors: list[PreviewRecordError]
    pages: dict[str, int] = Field(description="Pages read per stream.")
    truncated: bool = Field(description="True when a stream had more pages than max_pages.")


@router.post("/preview", response_model=PreviewResult,
             summary="Dry run: what the first sync would publish, from at most max_pages pages per stream",
             responses={404: {"description": "unknown connector"},
                        422: {"description": "the vendor or the configuration refused (error_class says why)"},
                        503: {"description": "the vendor or vault-gateway is unavailable; try again"}})
async def preview(body: PreviewRequest, rt: Runtime = Depends(get_runtime),
                  caller: Principal = Depends(require_service("installer"))) -> dict:
    deps = rt.deps_of(SyncRunnerDeps)
    return await service.preview(
        outbound=deps.outbound, vault_gateway=deps.vault_gateway, org_id=body.org_id,
        installation_id=body.installation_id, integration_key=body.integration_key, settings=body.settings,
        credential_ref=body.credential_ref, max_pages=body.max_pages, mappings=body.mappings)
