"""Test a connection with the configuration the installer is about to save."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import structlog

from aria_connectors.errors import ConnectorError
from aria_platform.internal import InternalClient
from aria_platform.problems import Problem

from ..connectors import RunError, lease_secrets, open_instance, plugin_for

log = structlog.get_logger(__name__)


async def test_connection(*, outbound: httpx.AsyncClient, vault_gateway: InternalClient, org_id: uuid.UUID,
                          installation_id: uuid.UUID, integration_key: str, settings: dict[str, Any],
                          credential_ref: str | None) -> dict:
    """{ok, latency_ms, message, error_class}. A down vault-gateway is a 503 (try again), not a verdict."""
    try:
        plugin = plugin_for(integration_key)
    except RunError as exc:
        raise Problem(404, "unknown_connector", "Unknown connector", exc.message) from None
    try:
        secrets = await lease_secrets(vault_gateway, credential_ref=credential_ref, installation_id=installation_id)
    except RunError as exc:
        if exc.error_class == "transient":
            raise Problem(503, "dependency_unavailable", "Dependency unavailable", exc.message,
                          headers={"Retry-After": "5"}) from None
        return {"ok": False, "latency_ms": 0.0, "message": exc.message, "error_class": exc.error_class}
    try:
        instance = open_instance(plugin, org_id=org_id, installation_id=installation_id,
                                 integration_key=integration_key, settings=settings, secrets=secrets, http=outbound)
    except ConnectorError as exc:
        return {"ok": False, "latency_ms": 0.0, "message": exc.message, "error_class": exc.error_class}
    finally:
        secrets = {}
    try:
        result = await instance.test_connection()
    except ConnectorError as exc:
        result_dict = {"ok": False, "latency_ms": 0.0, "message": exc.message, "error_class": exc.error_class}
    else:
        result_dict = {"ok": result.ok, "latency_ms": result.latency_ms, "message": result.message,
                       "error_class": result.error_class}
    finally:
        await instance.close()
    log.info("connection tested", installation_id=str(installation_id), integration_key=integration_key,
             ok=result_dict["ok"], error_class=result_dict["error_class"])
    return result_dict
