"""Installation lifecycle: install, configure, test, preview, enable, disable, suspend, sync now and its
settings, uninstall.

Every state change, its activity-log line and the event announcing it commit in one transaction
(the event goes through the outbox). Secrets are split off before anything is written and sent
to vault-gateway; Postgres keeps only settings, a config hash and the credential reference.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
import structlog

from aria_connectors import registry
from aria_connectors.sdk.manifest import Manifest
from aria_contracts.events import (
    InstallationConfigured,
    InstallationDisabled,
    InstallationEnabled,
    InstallationInstalled,
    InstallationUninstalled,
    SyncRequested,
)
from aria_platform.auth import Principal
from aria_platform.internal import InternalClient
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem, not_found
from aria_platform.text import first_unstorable

from ..activity import repo as activity
from ..mappings import repo as mappings
from ..mappings.rules import validate_set as validate_mappings
from ..mappings.defaults import seed_defaults
from . import repo
from .states import next_state

log = structlog.get_logger(__name__)
SOURCE = "installer"


def _plugin(integration_key: str):
    try:
        return registry.get(integration_key)
    except registry.UnknownConnector:
        raise Problem(404, "unknown_integration", "Unknown integration",
                      f"no integration with key {integration_key!r} in the catalog") from None


async def load_installation(conn, *, principal: Principal, installation_id: uuid.UUID, for_update: bool = False) -> asyncpg.Record:
    row = await repo.get(conn, org_id=principal.org_id, installation_id=installation_id, for_update=for_update)
    if row is None:
        raise not_found("installation")
    return row


def _ref(value) -> str | None:
    return str(value) if value else None


def _event_base(row: asyncpg.Record, revision: int, actor: str) -> dict[str, Any]:
    return dict(installation_id=row["id"], org_id=row["org_id"], integration_key=row["integration_key"],
                revision=revision, actor=actor)


async def announce(conn, payload) -> None:
    """Into the outbox, in the caller's transaction: published only if the change commits."""
    await enqueue(conn, traced(payload, source=SOURCE, org_id=payload.org_id, installation_id=payload.installation_id))


def request_hash(body: Any) -> str:
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def install(*, pool: asyncpg.Pool, principal: Principal, integration_key: str,
                  idempotency_key: str | None, demo: bool = False) -> tuple[asyncpg.Record, bool]:
    """Install an integration for the caller's organization. Returns (installation, created).

    Idempotent per organization + integration: installing again returns the live installation.
    `demo`: a sandbox installation (demos/), kept apart from the real one (one of each at most).
    """
    _plugin(integration_key)
    async with pool.acquire() as conn, conn.transaction():
        if idempotency_key:
            seen = await repo.idempotent_response(conn, org_id=principal.org_id, key=idempotency_key)
            if seen is not None:
                if seen["request_hash"] != request_hash({"integration_key": integration_key}):
                    raise Problem(422, "idempotency_key_reused", "Idempotency-Key reused",
                                  "this Idempotency-Key was used with a different request")
                row = await repo.get(conn, org_id=principal.org_id, installation_id=uuid.UUID(seen["response"]["id"]))
                if row is not None:
                    return row, False
        installation_id = uuid.uuid4()
        created = await repo.insert_installation(conn, installation_id=installation_id, org_id=principal.org_id,
                                                 integration_key=integration_key, installed_by=principal.subject,
                                                 demo=demo)
        if not created:
            row = await repo.live_installation_of(conn, org_id=principal.org_id, integration_key=integration_key,
                                                  demo=demo)
            return row, False
        row = await repo.get(conn, org_id=principal.org_id, installation_id=installation_id)
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="install",
                           status="success", actor=principal.subject,
                           message=f"installed {integration_key}{' (demo against its simulator)' if demo else ''}")
        await seed_defaults(conn, installation=row, actor=principal.subject)
        await announce(conn, InstallationInstalled(**_event_base(row, 1, principal.subject), demo=demo))
        if idempotency_key:
            await repo.remember_response(conn, org_id=principal.org_id, key=idempotency_key,
                                         request_hash=request_hash({"integration_key": integration_key}),
                                         status_code=201, response={"id": str(installation_id)})
        return row, True


async def configure(*, pool: asyncpg.Pool, vault_gateway: InternalClient, principal: Principal,
                    installation_id: uuid.UUID, config: dict[str, Any], sync_frequency: str | None) -> asyncpg.Record:
    """Validate against the connector's JSON Schema, send secrets to vault-gateway, keep the rest.
    (Pushing risks to an installation is an automation rule now: ``rules``.)"""
    if (bad := first_unstorable(config)) is not None:
        # Refused before Vault is written: a secret Postgres could not describe must not be stored.
        raise Problem(422, "invalid_text", "Configuration contains unstorable text",
                      f"{bad[0]} {bad[1]}", errors=[{"field": bad[0], "message": bad[1]}])
    async with pool.acquire() as conn:
        current = await load_installation(conn, principal=principal, installation_id=installation_id)
    next_state("configure", current["status"])
    plugin = _plugin(current["integration_key"])
    secret_fields = set(plugin.manifest.secret_fields())
    kept_secrets = set(current["secret_fields"] or []) if current["credential_ref"] else set()
    # A reconfiguration may leave secret fields out to keep the stored ones.
    candidate = {**{f: "********" for f in kept_secrets - config.keys()}, **config}
    errors = plugin.validate_config(candidate)
    if errors:
        raise Problem(422, "config_invalid", "Configuration is invalid",
                      "the configuration does not match the integration's schema",
                      errors=[{"field": e.path, "message": e.message} for e in errors])
    settings, secrets = plugin.split_config(config)
    _refuse_moving_kept_secrets(plugin.manifest, before=current["settings"] or {}, after=settings,
                                kept=kept_secrets - secrets.keys())
    credential_ref = current["credential_ref"]
    if secrets:
        response = await vault_gateway.request(
            "PUT", f"/internal/v1/installations/{installation_id}/credentials/connector",
            json={"org_id": str(principal.org_id), "kind": "connector", "secrets": secrets})
        if response.status_code != 200:
            raise Problem(502, "credential_store_failed", "Credential could not be stored",
                          f"vault-gateway answered {response.status_code}")
        credential_ref = uuid.UUID(response.json()["credential_ref"])
        credential_version = response.json()["version"]
    else:
        credential_version = None
    stored_secret_fields = sorted((secrets.keys() | kept_secrets) & secret_fields)
    config_hash = request_hash({"settings": settings, "secret_fields": stored_secret_fields,
                                "credential": [str(credential_ref), credential_version]})

    try:
        return await _commit_configuration(
            pool=pool, principal=principal, installation_id=installation_id, settings=settings,
            stored_secret_fields=stored_secret_fields, config_hash=config_hash, credential_ref=credential_ref,
            sync_frequency=sync_frequency, changed_secrets=sorted(secrets))
    except BaseException:
        if credential_version is not None:
            await _take_back_store(vault_gateway, credential_ref=credential_ref, version=credential_version)
        raise


async def _take_back_store(vault_gateway: InternalClient, *, credential_ref: uuid.UUID, version: int) -> None:
    """The configuration did not commit, so the secret stored for it must not become the one in use:
    vault-gateway points the credential back at the version before. A 409 needs nothing: a first
    store replaced nothing (and no committed configuration refers to it), or a later store or
    rotation is current. Vault-gateway unreachable leaves the new version current: logged for an
    operator (names and numbers only)."""
    try:
        response = await vault_gateway.request(
            "POST", f"/internal/v1/credentials/{credential_ref}/versions/{version}/revert")
        settled = response.status_code in (200, 409)
    except Problem:
        settled = False
    if not settled:
        log.error("credential_store_not_taken_back", credential_ref=str(credential_ref), version=version)


async def _commit_configuration(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                                settings: dict[str, Any], stored_secret_fields: list[str], config_hash: str,
                                credential_ref: uuid.UUID | None, sync_frequency: str | None,
                                changed_secrets: list[str]) -> asyncpg.Record:
    """The configuration version, state, activity line and events: one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        status = next_state("configure", row["status"])
        version = await repo.insert_configuration(conn, installation_id=installation_id, settings=settings,
                                                  secret_fields=stored_secret_fields, config_hash=config_hash,
                                                  credential_ref=credential_ref, created_by=principal.subject)
        extra = {"sync_frequency": sync_frequency} if sync_frequency else {}
        revision = await repo.set_state(conn, installation_id=installation_id, status=status, **extra)
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="configure",
                           status="success", actor=principal.subject, message=f"configuration version {version}",
                           details={"config_version": version, "changed_secrets": changed_secrets})
        updated = await repo.get(conn, org_id=principal.org_id, installation_id=installation_id)
        await announce(conn, configured_event(updated, revision, principal.subject))
        if status == "enabled":
            # Running installations pick up the new settings through a fresh enabled event.
            await announce(conn, enabled_event(updated, revision, principal.subject))
        return updated


def _refuse_moving_kept_secrets(manifest: Manifest, *, before: dict[str, Any], after: dict[str, Any], kept: set[str]) -> None:
    """A stored secret may only go where it went when it was entered: changing a setting that
    decides the destination (base URL, tenant, token URL...) must come with every secret again,
    else the next connection test would send the stored secret to the new host."""
    if not kept:
        return
    moved = sorted(name for name in manifest.destination_settings() if before.get(name) != after.get(name))
    if moved:
        raise Problem(422, "secrets_required", "Secrets required for a new destination",
                      f"changing {', '.join(moved)} decides where the credential is sent: "
                      f"send {', '.join(sorted(kept))} again", changed_settings=moved, missing_secrets=sorted(kept))


def configured_event(row: asyncpg.Record, revision: int, actor: str) -> InstallationConfigured:
    """The installation's current configuration, as announced after any change to it."""
    return InstallationConfigured(**_event_base(row, revision, actor), config_version=row["config_version"],
                                  config_hash=row["config_hash"], settings=row["settings"],
                                  credential_ref=_ref(row["credential_ref"]),
                                  webhook_credential_ref=_ref(row["webhook_credential_ref"]))


def enabled_event(row: asyncpg.Record, revision: int, actor: str) -> InstallationEnabled:
    return InstallationEnabled(**_event_base(row, revision, actor), config_version=row["config_version"],
                               settings=row["settings"], credential_ref=_ref(row["credential_ref"]),
                               sync_frequency=row["sync_frequency"], auto_sync=row["auto_sync"],
                               webhook_credential_ref=_ref(row["webhook_credential_ref"]))


async def change_state(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                       action: str) -> asyncpg.Record:
    """enable / disable / suspend."""
    async with pool.acquire() as conn, conn.transaction():
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        status = next_state(action, row["status"])
        if action == "enable" and row["config_version"] is None:
            raise Problem(409, "not_configured", "Installation is not configured", "configure it before enabling",
                          current_state=row["status"])
        revision = await repo.set_state(conn, installation_id=installation_id, status=status)
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="state_change",
                           status="success", actor=principal.subject, message=f"{row['status']} -> {status}")
        updated = await repo.get(conn, org_id=principal.org_id, installation_id=installation_id)
        if action == "enable":
            await announce(conn, enabled_event(updated, revision, principal.subject))
        else:
            await announce(conn, InstallationDisabled(**_event_base(row, revision, principal.subject)))
        return updated


async def request_sync(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID, sync_type: str,
                       request_id: uuid.UUID | None) -> uuid.UUID:
    async with pool.acquire() as conn, conn.transaction():
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        next_state("sync", row["status"])
        request_id = request_id or uuid.uuid4()
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="sync",
                           status="info", actor=principal.subject, message=f"{sync_type} sync requested",
                           details={"request_id": str(request_id)})
        await announce(conn, SyncRequested(
            installation_id=row["id"], org_id=row["org_id"], integration_key=row["integration_key"],
            request_id=request_id, sync_type=sync_type, requested_by=principal.subject,
            config_version=row["config_version"], settings=row["settings"],
            credential_ref=_ref(row["credential_ref"]),
            mappings=await mappings.snapshot(conn, installation_id=installation_id)))
        return request_id


async def _ask_sync_runner(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                           installation_id: uuid.UUID, action: str, path: str, with_mappings: bool = False,
                           **extra) -> httpx.Response:
    """Call sync-runner about the installation's stored configuration (and data mappings, for what
    maps records); it leases the secrets itself."""
    async with pool.acquire() as conn:
        row = await load_installation(conn, principal=principal, installation_id=installation_id)
        if with_mappings:
            extra["mappings"] = await mappings.snapshot(conn, installation_id=installation_id)
    next_state(action, row["status"])
    return await sync_runner.request("POST", path, json={
        "org_id": str(row["org_id"]), "installation_id": str(row["id"]), "integration_key": row["integration_key"],
        "settings": row["settings"], "credential_ref": _ref(row["credential_ref"]), **extra})


async def _log_outcome(pool: asyncpg.Pool, *, principal: Principal, installation_id: uuid.UUID, activity_type: str,
                       ok: bool, message: str, details: dict) -> None:
    async with pool.acquire() as conn:
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type=activity_type,
                           status="success" if ok else "failure", actor=principal.subject, message=message,
                           details=details)


async def test_connection(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                          installation_id: uuid.UUID) -> dict:
    response = await _ask_sync_runner(pool=pool, sync_runner=sync_runner, principal=principal,
                                      installation_id=installation_id, action="test",
                                      path="/internal/v1/test-connection")
    return await _test_outcome(pool, principal=principal, installation_id=installation_id, response=response)


async def _test_outcome(pool: asyncpg.Pool, *, principal: Principal, installation_id: uuid.UUID,
                        response: httpx.Response, **details: Any) -> dict:
    """sync-runner's verdict on a connection test, recorded in the activity log."""
    if response.status_code != 200:
        raise Problem(502, "connection_test_failed", "Connection test could not run",
                      f"sync-runner answered {response.status_code}")
    result = response.json()
    await _log_outcome(pool, principal=principal, installation_id=installation_id, activity_type="test",
                       ok=result["ok"], message=result.get("message") or "",
                       details={"latency_ms": result.get("latency_ms"), "error_class": result.get("error_class"),
                                **details})
    return result


async def test_configuration(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                             installation_id: uuid.UUID, config: dict[str, Any]) -> dict:
    """Test a configuration that is not saved (the setup wizard, before anything is stored).

    Validated against the connector's schema like configure; the secrets go to sync-runner for this
    one call only (never to Postgres, the vault, the activity log or a log line). Any state: it is a
    probe, it changes nothing but the activity log."""
    async with pool.acquire() as conn:
        row = await load_installation(conn, principal=principal, installation_id=installation_id)
    plugin = _plugin(row["integration_key"])
    errors = plugin.validate_config(config)
    if errors:
        raise Problem(422, "config_invalid", "Configuration is invalid",
                      "the configuration does not match the integration's schema",
                      errors=[{"field": e.path, "message": e.message} for e in errors])
    settings, secrets = plugin.split_config(config)
    response = await sync_runner.request("POST", "/internal/v1/test-connection", json={
        "org_id": str(row["org_id"]), "installation_id": str(row["id"]), "integration_key": row["integration_key"],
        "settings": settings, "secrets": secrets})
    return await _test_outcome(pool, principal=principal, installation_id=installation_id, response=response,
                               unsaved_configuration=True)


async def preview(*, pool: asyncpg.Pool, sync_runner: InternalClient, principal: Principal,
                  installation_id: uuid.UUID, max_pages: int, mappings: list[dict[str, Any]] | None = None) -> dict:
    """A dry run against the vendor: counts and samples, nothing published, no checkpoint.

    `mappings`: an unsaved set to map with (the wizard's edited mapping), validated like a saved
    one; absent, the installation's stored set."""
    extra: dict[str, Any] = {}
    if mappings is not None:
        async with pool.acquire() as conn:
            row = await load_installation(conn, principal=principal, installation_id=installation_id)
        validate_mappings(row["integration_key"], mappings)
        extra["mappings"] = mappings
    response = await _ask_sync_runner(pool=pool, sync_runner=sync_runner, principal=principal,
                                      installation_id=installation_id, action="preview",
                                      path="/internal/v1/preview", with_mappings=mappings is None,
                                      max_pages=max_pages, **extra)
    if response.status_code != 200:
        problem = response.json() if response.headers.get("content-type", "").endswith("json") else {}
        error_class = problem.get("error_class")
        await _log_outcome(pool, principal=principal, installation_id=installation_id, activity_type="preview",
                           ok=False, message=f"preview failed ({error_class or response.status_code})",
                           details={"status": response.status_code, "error_class": error_class})
        if response.status_code == 422:
            # The vendor or the configuration refused; connector messages never carry secret values.
            raise Problem(422, "preview_failed", "Preview failed", problem.get("detail"), error_class=error_class)
        raise Problem(502, "preview_failed", "Preview could not run", f"sync-runner answered {response.status_code}")
    result = response.json()
    await _log_outcome(pool, principal=principal, installation_id=installation_id, activity_type="preview", ok=True,
                       message=f"preview: {sum(result['counts'].values())} records",
                       details={"counts": result["counts"], "pages": result["pages"], "truncated": result["truncated"],
                                "record_errors": len(result["record_errors"])})
    return result


async def update_sync_settings(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID,
                               sync_frequency: str, auto_sync: bool) -> asyncpg.Record:
    """A running installation is re-announced as enabled: sync-runner schedules from that event."""
    async with pool.acquire() as conn, conn.transaction():
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        if (row["sync_frequency"], row["auto_sync"]) == (sync_frequency, auto_sync):
            return row
        revision = await repo.set_state(conn, installation_id=installation_id, status=row["status"],
                                        sync_frequency=sync_frequency, auto_sync=auto_sync)
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id,
                           activity_type="sync_settings", status="success", actor=principal.subject,
                           message=f"sync {sync_frequency}, auto sync {'on' if auto_sync else 'off'}",
                           details={"before": {"sync_frequency": row["sync_frequency"], "auto_sync": row["auto_sync"]},
                                    "after": {"sync_frequency": sync_frequency, "auto_sync": auto_sync}})
        updated = await repo.get(conn, org_id=principal.org_id, installation_id=installation_id)
        if updated["status"] == "enabled":
            await announce(conn, enabled_event(updated, revision, principal.subject))
        return updated


async def uninstall(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID) -> None:
    """The uninstalled event makes vault-gateway crypto-shred the credentials."""
    async with pool.acquire() as conn, conn.transaction():
        row = await load_installation(conn, principal=principal, installation_id=installation_id, for_update=True)
        revision = await repo.mark_uninstalled(conn, installation_id=installation_id)
        await activity.add(conn, installation_id=installation_id, org_id=principal.org_id, activity_type="uninstall",
                           status="success", actor=principal.subject, message="uninstalled")
        await announce(conn, InstallationUninstalled(**_event_base(row, revision, principal.subject)))


async def get(*, pool: asyncpg.Pool, principal: Principal, installation_id: uuid.UUID) -> asyncpg.Record:
    async with pool.acquire() as conn:
        return await load_installation(conn, principal=principal, installation_id=installation_id)


async def list_page(*, pool: asyncpg.Pool, principal: Principal, after: tuple | None, limit: int,
                    statuses: list[str] | None = None) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await repo.list_for_org(conn, org_id=principal.org_id, after=after, limit=limit, statuses=statuses)


def integration_display(integration_key: str) -> tuple[str, str | None]:
    """The integration's name and logo, from the connector's manifest (the key when it is gone)."""
    try:
        manifest = registry.get(integration_key).manifest
    except registry.UnknownConnector:
        return integration_key, None
    return manifest.name, manifest.icon_url
