"""The organization's own audit evidence for one installation, read from the services that own it:
the credential audit (vault-gateway) and the webhook deliveries (webhook-ingest). The installer
checks the caller's organization and role; the owners answer only service identities."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx

from aria_platform.auth import Principal
from aria_platform.internal import InternalClient
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.problems import Problem

from ..installations.service import load_installation


async def _check_installation(pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID) -> None:
    """Another organization's installation (or an uninstalled one) is a 404."""
    async with pool.acquire() as conn:
        await load_installation(conn, principal=principal, installation_id=installation_id)


def _refused(response: httpx.Response, owner: str) -> Problem:
    if response.status_code == 400:
        return invalid_cursor()
    return Problem(502, "audit_unavailable", "Audit trail unavailable", f"{owner} answered {response.status_code}")


async def credential_audit(*, pool: asyncpg.Pool, vault_gateway: InternalClient, principal: Principal,
                           installation_id: uuid.UUID, cursor: str | None, limit: int) -> dict[str, Any]:
    """Newest first; the cursor is the last row's id (vault-gateway's ``before_id``)."""
    before = decode_cursor(cursor, arity=1)
    if before and not (isinstance(before[0], int) and before[0] > 0):
        raise invalid_cursor()
    await _check_installation(pool, principal, installation_id)
    params: dict[str, Any] = {"limit": limit + 1, **({"before_id": before[0]} if before else {})}
    response = await vault_gateway.request("GET", f"/internal/v1/installations/{installation_id}/credential-audit",
                                           params=params)
    if response.status_code != 200:
        raise _refused(response, "vault-gateway")
    rows = response.json()
    items = rows[:limit]
    return {"items": items, "next_cursor": encode_cursor([items[-1]["id"]]) if len(rows) > limit else None}


async def webhook_deliveries(*, pool: asyncpg.Pool, webhook_ingest: InternalClient, principal: Principal,
                             installation_id: uuid.UUID, cursor: str | None, limit: int) -> dict[str, Any]:
    """Newest first, webhook-ingest's own cursor passed through; scoped to the caller's organization
    twice (the installation check here, the org filter there)."""
    await _check_installation(pool, principal, installation_id)
    params: dict[str, Any] = {"limit": limit, "org_id": str(principal.org_id), **({"cursor": cursor} if cursor else {})}
    response = await webhook_ingest.request("GET", f"/internal/v1/installations/{installation_id}/deliveries",
                                            params=params)
    if response.status_code != 200:
        raise _refused(response, "webhook-ingest")
    return response.json()
