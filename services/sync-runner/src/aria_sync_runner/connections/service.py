"""Test a connection with the configuration the installer is about to save."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import structlog

from aria_connectors.errors import ConnectorError
from aria_connectors.sdk.data_mappings import MappingSet
from aria_platform.internal import InternalClient
from aria_platform.problems import Problem

from ..connectors import RunError, lease_secrets, open_instance, plugin_for

log = structlog.get_logger(__name__)


async def test_connection(*, outbound: httpx.AsyncClient, vault_gateway: InternalClient, org_id: uuid.UUID,
                          installation_id: uuid.UUID, integration_key: str, settings: dict[str, Any],
                          credential_ref: str | None, timeout_s: float,
                          unsaved_secrets: dict[str, str] | None = None) -> dict:
    """{ok, latency_ms, message, error_class}. A down vault-gateway is a 503 (try again), not a verdict;
    a vendor that does not answer within `timeout_s` is a failed test naming the vendor.

    `unsaved_secrets` (the setup wizard's test before saving) replace the lease; they live only in
    this call's connector instance and are never logged."""
    plugin = _plugin(integration_key)
    try:
        secrets = dict(unsaved_secrets) if unsaved_secrets is not None else \
            await lease_secrets(vault_gateway, credential_ref=credential_ref, installation_id=installation_id)
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
        async with asyncio.timeout(timeout_s):
            result = await instance.test_connection()
    except TimeoutError:
        result_dict = {"ok": False, "latency_ms": timeout_s * 1000,
                       "message": f"{plugin.manifest.name} did not answer within {timeout_s:g} s",
                       "error_class": "transient"}
    except ConnectorError as exc:
        result_dict = {"ok": False, "latency_ms": 0.0, "message": exc.message, "error_class": exc.error_class}
    else:
        result_dict = {"ok": result.ok, "latency_ms": result.latency_ms, "message": result.message,
                       "error_class": result.error_class}
    finally:
        await instance.close()
    log.info("connection tested", installation_id=str(installation_id), integration_key=integration_key,
             ok=result_dict["ok"], error_class=result_dict["error_class"], unsaved=unsaved_secrets is not None)
    return result_dict


async def preview(*, outbound: httpx.AsyncClient, vault_gateway: InternalClient, org_id: uuid.UUID,
                  installation_id: uuid.UUID, integration_key: str, settings: dict[str, Any],
                  credential_ref: str | None, max_pages: int, mappings: list[dict[str, Any]] | None = None) -> dict:
    """A dry run of the first sync (PreviewResult.as_dict()): nothing is published or stored."""
    plugin = _plugin(integration_key)
    try:
        secrets = await lease_secrets(vault_gateway, credential_ref=credential_ref, installation_id=installation_id)
        instance = open_instance(plugin, org_id=org_id, installation_id=installation_id,
                                 integration_key=integration_key, settings=settings, secrets=secrets, http=outbound,
                                 mappings=None if mappings is None else MappingSet.parse(mappings))
        secrets = {}
        try:
            result = await instance.preview(max_pages=max_pages)
        finally:
            await instance.close()
    except (RunError, ConnectorError) as exc:
        raise _preview_problem(exc.error_class, exc.message) from None
    log.info("preview read", installation_id=str(installation_id), integration_key=integration_key,
             counts=result.counts, pages=result.pages)
    return result.as_dict()


def _preview_problem(error_class: str, message: str) -> Problem:
    """Transient (vendor or vault-gateway down): 503, try again. Otherwise the configuration is at fault: 422."""
    if error_class == "transient":
        return Problem(503, "preview_unavailable", "Preview could not run now", message,
                       headers={"Retry-After": "5"}, error_class=error_class)
    return Problem(422, "preview_failed", "Preview failed", message, error_class=error_class)


def _plugin(integration_key: str):
    try:
        return plugin_for(integration_key)
    except RunError as exc:
        raise Problem(404, "unknown_connector", "Unknown connector", exc.message) from None
