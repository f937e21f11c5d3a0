"""Public installation API. Viewers read, operators sync and test, admins change things."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.runtime import Runtime, get_runtime

from ..deps import InstallerDeps
from ..mappings.views import MappingIn
from ..webhooks.service import webhook_url
from . import service

router = APIRouter(prefix="/v1/installations", tags=["installations"])
SyncFrequency = Literal["realtime", "hourly", "daily", "weekly", "manual"]
Status = Literal["configuring", "disabled", "enabled", "error", "suspended"]


class InstallRequest(BaseModel):
    integration_key: str = Field(min_length=1, max_length=100, examples=["crowdstrike_falcon"])


class ConfigureRequest(BaseModel):
    config: dict[str, Any] = Field(description="Settings and secrets, as the integration's config schema describes. "
                                               "Secret fields go to vault-gateway and are never returned.",
                                   examples=[{"base_url": "https://api.crowdstrike.com", "client_id": "abc",
                                              "client_secret": "..."}])
    sync_frequency: SyncFrequency | None = None


class SyncRequest(BaseModel):
    sync_type: Literal["incremental", "full"] = "incremental"


class Installation(BaseModel):
    id: uuid.UUID
    integration_key: str
    integration_name: str = Field(description="The integration's display name.")
    logo_url: str | None = Field(description="The integration's logo, where its manifest has one.")
    status: str
    revision: int
    sync_frequency: str
    auto_sync: bool
    health_status: str
    last_sync_at: datetime | None
    last_sync_status: str | None
    error_count: int
    last_error: str | None
    demo: bool = Field(description="A sandbox installation against the connector's simulator (Try demo): "
                                   "sample data only; uninstall it to throw it away.")
    records_synced: dict[str, int] = Field(
        description="Records synced per entity type since the installation was created ({\"risk\": 120, "
                    "\"asset\": 40}): events sync jobs published, added up as each job ends (completed, failed "
                    "or cancelled).")
    config_version: int | None
    settings: dict[str, Any] | None = Field(description="Non-secret settings only.")
    secret_fields: list[str] = Field(description="Names of secret fields stored in the vault; never their values.")
    webhook_url: str
    installed_by: str
    created_at: datetime
    updated_at: datetime


class InstallationPage(BaseModel):
    items: list[Installation]
    next_cursor: str | None


_DERIVED = ("webhook_url", "secret_fields", "integration_name", "logo_url")


def installation_out(request: Request, row) -> Installation:
    """An installation row as the public API shows it (also used by demos/)."""
    name, logo = service.integration_display(row["integration_key"])
    return Installation(**{k: row[k] for k in Installation.model_fields if k not in _DERIVED},
                        secret_fields=list(row["secret_fields"] or []), integration_name=name, logo_url=logo,
                        webhook_url=webhook_url(request.app.state.runtime.settings.webhook_base_url, row["id"]))


@router.post("", status_code=201, response_model=Installation, summary="Install an integration",
             responses={200: {"description": "Already installed: the live installation"},
                        404: {"description": "Unknown integration"}})
async def install(body: InstallRequest, request: Request, response: Response, rt: Runtime = Depends(get_runtime),
                  principal: Principal = Depends(require_role("admin")),
                  idempotency_key: str | None = Header(default=None, max_length=200)) -> Installation:
    row, created = await service.install(pool=rt.pool, principal=principal, integration_key=body.integration_key,
                                         idempotency_key=idempotency_key)
    if not created:
        response.status_code = 200
    return installation_out(request, row)


@router.get("", response_model=InstallationPage, summary="List the organization's installations")
async def list_installations(request: Request, cursor: str | None = None, limit: int = Query(50, ge=1, le=200),
                             status: list[Status] = Query(default=[], description="Only these states (repeat the "
                                                          "parameter); a cursor continues the same filter."),
                             rt: Runtime = Depends(get_runtime),
                             principal: Principal = Depends(require_role("viewer"))) -> InstallationPage:
    after = decode_cursor(cursor, arity=2)
    if after:
        try:
            after = (datetime.fromisoformat(after[0]), uuid.UUID(after[1]))
        except (TypeError, ValueError, AttributeError):  # Type/AttributeError: a number where a string belongs
            raise invalid_cursor() from None
    rows = await service.list_page(pool=rt.pool, principal=principal, after=after, limit=limit + 1,
                                   statuses=sorted(set(status)) or None)
    items = [installation_out(request, r) for r in rows[:limit]]
    more = len(rows) > limit
    return InstallationPage(items=items, next_cursor=encode_cursor([items[-1].created_at.isoformat(), str(items[-1].id)])
                            if more else None)


@router.get("/{installation_id}", response_model=Installation, summary="Get one installation")
async def get_installation(installation_id: uuid.UUID, request: Request, rt: Runtime = Depends(get_runtime),
                           principal: Principal = Depends(require_role("viewer"))) -> Installation:
    return installation_out(request, await service.get(pool=rt.pool, principal=principal, installation_id=installation_id))


@router.put("/{installation_id}/configuration", response_model=Installation,
            summary="Configure (validated against the integration's config schema)")
async def configure(installation_id: uuid.UUID, body: ConfigureRequest, request: Request,
                    rt: Runtime = Depends(get_runtime),
                    principal: Principal = Depends(require_role("admin"))) -> Installation:
    row = await service.configure(pool=rt.pool, vault_gateway=rt.deps_of(InstallerDeps).vault_gateway,
                                  principal=principal, installation_id=installation_id, config=body.config,
                                  sync_frequency=body.sync_frequency)
    return installation_out(request, row)


@router.post("/{installation_id}/test", summary="Test the connection with the stored configuration")
async def test_connection(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                          principal: Principal = Depends(require_role("operator"))) -> dict:
    return await service.test_connection(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner,
                                         principal=principal, installation_id=installation_id)


class TestConfigurationRequest(BaseModel):
    config: dict[str, Any] = Field(description="Settings and secrets as the integration's config schema describes. "
                                               "Tested once and not saved: never stored, logged or returned.",
                                   examples=[{"base_url": "https://api.crowdstrike.com", "client_id": "abc",
                                              "client_secret": "..."}])


class ConnectionTestResult(BaseModel):
    ok: bool
    latency_ms: float
    message: str = Field(description="The vendor's answer in words (never a secret value).")
    error_class: Literal["authentication", "permission", "transient", "permanent", "configuration"] | None = Field(
        description="Why it failed: authentication (wrong credentials), permission (missing scope), transient "
                    "(unreachable, rate limited), configuration, permanent.")


@router.post("/{installation_id}/test-configuration", response_model=ConnectionTestResult,
             summary="Test a configuration before saving it (the setup wizard)",
             description="Validates the configuration against the integration's schema (422 config_invalid) and "
                         "calls the vendor with it once. Nothing is saved: secrets are used for this call only. "
                         "Allowed in every state, including a new installation that is still configuring.",
             responses={422: {"description": "The configuration does not match the schema"},
                        502: {"description": "sync-runner could not run the test"}})
async def test_configuration(installation_id: uuid.UUID, body: TestConfigurationRequest,
                             rt: Runtime = Depends(get_runtime),
                             principal: Principal = Depends(require_role("admin"))) -> dict:
    return await service.test_configuration(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner, principal=principal,
                                            installation_id=installation_id, config=body.config)


class PreviewRequest(BaseModel):
    max_pages: int = Field(default=2, ge=1, le=5, description="Pages read per stream at most.")
    mappings: list[MappingIn] | None = Field(
        default=None, max_length=100,
        description="An unsaved set of data mappings to map with (the setup wizard's edited mapping; validated "
                    "like a saved one, nothing is stored). Absent: the installation's current mappings.")


class Preview(BaseModel):
    counts: dict[str, int] = Field(description="Records per entity type.")
    samples: dict[str, list[dict[str, Any]]] = Field(description="Up to 5 mapped events per entity type.")
    record_errors: list[dict[str, Any]]
    pages: dict[str, int] = Field(description="Pages read per stream.")
    truncated: bool


@router.post("/{installation_id}/preview", response_model=Preview,
             summary="Dry run: what a sync would produce (nothing is published or saved)",
             responses={502: {"description": "sync-runner could not run the preview"}})
async def preview(installation_id: uuid.UUID, body: PreviewRequest | None = None, rt: Runtime = Depends(get_runtime),
                  principal: Principal = Depends(require_role("operator"))) -> dict:
    body = body or PreviewRequest()
    return await service.preview(pool=rt.pool, sync_runner=rt.deps_of(InstallerDeps).sync_runner,
                                 principal=principal, installation_id=installation_id, max_pages=body.max_pages,
                                 mappings=[m.as_record() for m in body.mappings] if body.mappings is not None
                                 else None)


class SyncSettings(BaseModel):
    sync_frequency: SyncFrequency
    auto_sync: bool = Field(description="False: sync only when asked (sync now), whatever the frequency.")


def _sync_settings(row) -> SyncSettings:
    return SyncSettings(sync_frequency=row["sync_frequency"], auto_sync=row["auto_sync"])


@router.get("/{installation_id}/sync-settings", response_model=SyncSettings, summary="Sync frequency and auto sync")
async def get_sync_settings(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                            principal: Principal = Depends(require_role("viewer"))) -> SyncSettings:
    return _sync_settings(await service.get(pool=rt.pool, principal=principal, installation_id=installation_id))


@router.put("/{installation_id}/sync-settings", response_model=SyncSettings,
            summary="Change sync frequency / auto sync (an enabled installation is rescheduled)")
async def put_sync_settings(installation_id: uuid.UUID, body: SyncSettings, rt: Runtime = Depends(get_runtime),
                            principal: Principal = Depends(require_role("admin"))) -> SyncSettings:
    return _sync_settings(await service.update_sync_settings(
        pool=rt.pool, principal=principal, installation_id=installation_id, sync_frequency=body.sync_frequency,
        auto_sync=body.auto_sync))


def _state_route(action: str):
    async def change(installation_id: uuid.UUID, request: Request, rt: Runtime = Depends(get_runtime),
                     principal: Principal = Depends(require_role("admin"))) -> Installation:
        row = await service.change_state(pool=rt.pool, principal=principal, installation_id=installation_id,
                                         action=action)
        return installation_out(request, row)

    change.__name__ = action
    return change


for _action in ("enable", "disable", "suspend"):
    router.add_api_route(f"/{{installation_id}}/{_action}", _state_route(_action), methods=["POST"],
                         response_model=Installation, summary=f"{_action.capitalize()} the installation",
                         responses={409: {"description": "Not allowed from the current state"}})


@router.post("/{installation_id}/sync", status_code=202, summary="Sync now (jumps the schedule)")
async def sync_now(installation_id: uuid.UUID, body: SyncRequest | None = None, rt: Runtime = Depends(get_runtime),
                   principal: Principal = Depends(require_role("operator")),
                   idempotency_key: uuid.UUID | None = Header(default=None)) -> dict:
    request_id = await service.request_sync(pool=rt.pool, principal=principal, installation_id=installation_id,
                                            sync_type=(body or SyncRequest()).sync_type, request_id=idempotency_key)
    return {"request_id": str(request_id), "status": "requested"}


@router.delete("/{installation_id}", status_code=204, summary="Uninstall (credentials are crypto-shredded)")
async def uninstall(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                    principal: Principal = Depends(require_role("admin"))) -> None:
    await service.uninstall(pool=rt.pool, principal=principal, installation_id=installation_id)
