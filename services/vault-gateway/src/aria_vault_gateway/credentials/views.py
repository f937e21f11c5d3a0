"""Internal HTTP API: only service identities, each allowed only what it needs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_service
from aria_platform.problems import Problem
from aria_platform.runtime import Runtime, get_runtime

from ..deps import VaultGatewayDeps
from . import service

router = APIRouter(prefix="/internal/v1", tags=["credentials (internal)"])

# webhook-ingest keeps the signing secret of each outbound webhook endpoint here, under the
# endpoint's id in place of an installation id (its own transit key: deleting the endpoint
# crypto-shreds it). That is all it may store or shred: never an installation's credentials.
OUTBOUND_SIGNING = "outbound_signing"


def _only_outbound_signing(caller: Principal, name: str, kind: str | None) -> None:
    if caller.service == "webhook-ingest" and (name != OUTBOUND_SIGNING or kind not in (None, OUTBOUND_SIGNING)):
        raise Problem(403, "service_not_allowed", "Forbidden",
                      f"webhook-ingest may only store credentials named and of kind {OUTBOUND_SIGNING}")


class StoreRequest(BaseModel):
    org_id: uuid.UUID
    # Validated here, before Vault is written: a kind Postgres refuses would leave an orphan version.
    kind: str = Field(default="connector", pattern=r"^[a-z][a-z0-9_]{0,62}$")
    secrets: dict[str, str] = Field(min_length=1, description="Secret field name → value. Never returned.")
    rotation_frequency_days: int | None = Field(default=None, ge=1, le=3650)


class CredentialOut(BaseModel):
    credential_ref: uuid.UUID
    installation_id: uuid.UUID
    name: str
    kind: str
    version: int
    field_names: list[str]
    rotation_frequency_days: int | None
    auto_rotate: bool
    last_rotated_at: datetime | None
    created_at: datetime


class LeaseRequest(BaseModel):
    installation_id: uuid.UUID


class Lease(BaseModel):
    credential_ref: uuid.UUID
    version: int
    secrets: dict[str, str]
    expires_at: datetime


def _out(row) -> CredentialOut:
    return CredentialOut(**{k: row[k] for k in CredentialOut.model_fields if k != "version"}, version=row["current_version"])


@router.put("/installations/{installation_id}/credentials/{name}", response_model=CredentialOut,
            summary="Store a new version of an installation's credential")
async def store(installation_id: uuid.UUID, name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")],
                body: StoreRequest, rt: Runtime = Depends(get_runtime),
                caller: Principal = Depends(require_service("installer", "webhook-ingest"))) -> CredentialOut:
    _only_outbound_signing(caller, name, body.kind)
    row = await service.store_credential(
        pool=rt.pool, vault=rt.deps_of(VaultGatewayDeps).vault, actor=caller.subject, org_id=body.org_id,
        installation_id=installation_id, name=name, kind=body.kind, secrets=body.secrets,
        rotation_frequency_days=body.rotation_frequency_days)
    return _out(row)


@router.post("/credentials/{credential_ref}/lease", response_model=Lease,
             summary="Lease the decrypted credential of one installation (short lived)")
async def lease(credential_ref: uuid.UUID, body: LeaseRequest, rt: Runtime = Depends(get_runtime),
                caller: Principal = Depends(require_service("sync-runner", "webhook-ingest"))) -> dict:
    return await service.lease_credential(pool=rt.pool, vault=rt.deps_of(VaultGatewayDeps).vault, actor=caller.subject,
                                          credential_ref=credential_ref, installation_id=body.installation_id,
                                          ttl_s=rt.settings.lease_ttl_s)


@router.post("/credentials/{credential_ref}/versions/{version}/revert", response_model=CredentialOut,
             summary="Take back a store whose configuration did not commit: the previous version is current again")
async def revert(credential_ref: uuid.UUID, version: Annotated[int, Path(ge=1, le=2**31 - 1)], rt: Runtime = Depends(get_runtime),
                 caller: Principal = Depends(require_service("installer"))) -> CredentialOut:
    return _out(await service.revert_store(pool=rt.pool, actor=caller.subject, credential_ref=credential_ref,
                                           version=version))


@router.post("/credentials/{credential_ref}/rotate", response_model=CredentialOut,
             summary="Rotate the installation key and rewrap the stored credential")
async def rotate(credential_ref: uuid.UUID, rt: Runtime = Depends(get_runtime),
                 caller: Principal = Depends(require_service("installer"))) -> CredentialOut:
    return _out(await service.rotate_credential(pool=rt.pool, vault=rt.deps_of(VaultGatewayDeps).vault,
                                                actor=caller.subject, credential_ref=credential_ref))


@router.delete("/installations/{installation_id}/credentials", status_code=204,
               summary="Crypto-shred every credential of an installation (idempotent)")
async def shred(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                caller: Principal = Depends(require_service("installer", "webhook-ingest"))) -> None:
    await service.shred_installation(pool=rt.pool, vault=rt.deps_of(VaultGatewayDeps).vault, actor=caller.subject,
                                     installation_id=installation_id, org_id=None,
                                     only_kind=OUTBOUND_SIGNING if caller.service == "webhook-ingest" else None)


@router.get("/installations/{installation_id}/credential-audit", summary="Audit trail (never values), newest first",
            description="Keyset paging: pass the smallest `id` of a page as `before_id` for the next one.")
async def audit(installation_id: uuid.UUID, limit: int = Query(100, ge=1, le=1000),
                before_id: int | None = Query(None, ge=1, le=2**63 - 1, description="Only rows with a smaller id"),
                rt: Runtime = Depends(get_runtime),
                caller: Principal = Depends(require_service("installer"))) -> list[dict]:
    return await service.audit_trail(pool=rt.pool, installation_id=installation_id, limit=limit, before_id=before_id)
