"""Webhook settings: the installation's webhook URL and its own signing secret.

The secret is generated here, stored in vault-gateway as the credential `webhook_signing` and
returned once, to the admin who pastes it into the vendor; Postgres keeps only its reference.
Its reference travels in the installation.configured / installation.enabled events, and
webhook-ingest verifies with it in preference to a signing secret in the connector credential.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import asyncpg

from aria_connectors import registry
from aria_platform.auth import Principal
from aria_platform.internal import InternalClient
from aria_platform.problems import Problem

from ..activity import repo as activity
from ..installations import repo as installations
from ..installations.service import announce, configured_event, load_installation
from . import repo

CREDENTIAL_NAME = "webhook_signing"
SECRET_BYTES = 48  # 64 URL-safe characters


def webhook_url(base_url: str, installation_id: uuid.UUID) -> str:
    """The public endpoint of webhook-ingest for this installation."""
    return f"{base_url.rstrip('/')}/v1/webhooks/{installation_id}"


def _signature_spec(integration_key: str):
    return registry.get(integration_key).manifest.webhook


async def settings(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                   base_url: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await load_installation(conn, principal=principal, installation_id=installation_id)
        own = await repo.get(conn, installation_id=installation_id)
    spec = _signature_spec(row["integration_key"])
    if spec is None:
        return {"supported": False, "url": None, "signing_secret_configured": False, "secret_source": None,
                "signature_header": None, "last_rotated_at": None, "rotated_by": None}
    in_connector = spec.signature.secret_field in (row["secret_fields"] or []) and row["credential_ref"] is not None
    return {"supported": True, "url": webhook_url(base_url, installation_id),
            "signing_secret_configured": own is not None or in_connector,
            "secret_source": "webhook_signing" if own else ("connector" if in_connector else None),
            "signature_header": spec.signature.header,
            "last_rotated_at": own["rotated_at"] if own else None, "rotated_by": own["rotated_by"] if own else None}


async def rotate_secret(*, pool: asyncpg.Pool, vault_gateway: InternalClient, principal: Principal,
                        installation_id: uuid.UUID, base_url: str) -> dict[str, Any]:
    """A new random signing secret, stored in the vault, returned once. Its reference is announced."""
    async with pool.acquire() as conn, conn.transaction():
        # Held across the vault call so two rotations cannot cross: the secret answered is the one stored.
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        spec = _signature_spec(row["integration_key"])
        if spec is None:
            raise Problem(422, "webhooks_not_supported", "Webhooks not supported",
                          f"{row['integration_key']} does not receive webhooks")
        secret = secrets.token_urlsafe(SECRET_BYTES)
        response = await vault_gateway.request(
            "PUT", f"/internal/v1/installations/{installation_id}/credentials/{CREDENTIAL_NAME}",
            json={"org_id": str(principal.org_id), "kind": CREDENTIAL_NAME,
                  "secrets": {spec.signature.secret_field: secret}})
        if response.status_code != 200:
            raise Problem(502, "credential_store_failed", "Credential could not be stored",
                          f"vault-gateway answered {response.status_code}")
        stored = response.json()
        rotation = await repo.record_rotation(conn, installation_id=installation_id, org_id=principal.org_id,
                                              credential_ref=uuid.UUID(stored["credential_ref"]),
                                              secret_version=stored["version"], rotated_by=principal.subject)
        revision = await installations.set_state(conn, installation_id=installation_id, status=row["status"])
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="webhook",
                           status="success", actor=principal.subject, message="webhook signing secret rotated",
                           details={"credential_ref": stored["credential_ref"], "version": stored["version"]})
        if row["config_version"] is not None:
            # Unconfigured installations are not live for webhooks; their first configuration carries the ref.
            updated = await installations.get(conn, org_id=principal.org_id, installation_id=installation_id)
            await announce(conn, configured_event(updated, revision, principal.subject))
    rotated_at: datetime = rotation["rotated_at"]
    return {"url": webhook_url(base_url, installation_id), "signing_secret": secret,
            "signature_header": spec.signature.header, "rotated_at": rotated_at}
