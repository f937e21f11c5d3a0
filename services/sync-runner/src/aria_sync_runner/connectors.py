"""What a job and a connection test share: leasing the credential and opening a connector.

Secrets live only in the connector instance for the duration of one job or test: they are
leased from vault-gateway, handed to ``plugin.create`` and never logged, stored or put in an
error message (messages are built from status codes and our own text only).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import structlog

from aria_connectors import InstallationContext, RuntimeOptions, registry
from aria_connectors.errors import ConnectorError
from aria_connectors.sdk.data_mappings import MappingSet
from aria_platform.internal import InternalClient
from aria_platform.problems import Problem

from .outbound import guarded_client
from .settings import SyncRunnerSettings

log = structlog.get_logger(__name__)


class RunError(Exception):
    """A classified failure outside the connector (lease, unknown connector, internal)."""

    def __init__(self, error_class: str, message: str):
        super().__init__(message)
        self.error_class, self.message = error_class, message


def classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, (RunError, ConnectorError)):
        return exc.error_class, exc.message  # type: ignore[union-attr]
    return "internal", f"unexpected error ({type(exc).__name__}); see sync-runner logs"


def vendor_client(s: SyncRunnerSettings) -> httpx.AsyncClient:
    return guarded_client(allowlist=s.outbound_allowlist, timeout_s=s.outbound_timeout_s,
                          max_redirects=s.outbound_max_redirects)


def plugin_for(integration_key: str):
    try:
        return registry.get(integration_key)
    except registry.UnknownConnector:
        raise RunError("configuration", f"no connector {integration_key!r} is installed in sync-runner") from None


async def lease_secrets(vault_gateway: InternalClient, *, credential_ref: str | None,
                        installation_id: uuid.UUID) -> dict[str, Any]:
    """The installation's secret fields, or {} when it has no credential."""
    if not credential_ref:
        return {}
    try:
        ref = uuid.UUID(str(credential_ref))
    except ValueError:
        raise RunError("configuration", "credential reference is not a valid reference") from None
    try:
        response = await vault_gateway.request("POST", f"/internal/v1/credentials/{ref}/lease",
                                               json={"installation_id": str(installation_id)})
    except Problem as exc:
        raise RunError("transient", f"could not lease the credential: {exc.detail}") from None
    if response.status_code == 200:
        return dict(response.json()["secrets"])
    if response.status_code == 404:
        raise RunError("configuration", "credential not found for this installation (never stored or shredded)")
    if response.status_code == 410:
        raise RunError("configuration", "credential was destroyed; store the credential again")
    if response.status_code in (401, 403):
        raise RunError("internal", f"vault-gateway refused sync-runner's identity (HTTP {response.status_code})")
    raise RunError("internal", f"vault-gateway answered HTTP {response.status_code} to the lease")


def open_instance(plugin, *, org_id: uuid.UUID, installation_id: uuid.UUID, integration_key: str,
                  settings: dict[str, Any], secrets: dict[str, Any], http: httpx.AsyncClient,
                  mappings: MappingSet | None = None, rate_share: int = 1):
    """A new connector instance (one per job or test), holding this installation's secrets only.
    ``mappings``: the installation's data mappings; None maps with the connector's defaults.
    ``rate_share``: how many instances of the installation read at the same time (a job's streams
    in several processes); each keeps to that fraction of the manifest's rate budget."""
    context = InstallationContext(org_id=org_id, installation_id=installation_id, integration_key=integration_key)
    secret_names = set(plugin.manifest.secret_fields())
    # Settings travel through Kafka and Postgres: a secret field there is ignored, only the lease counts.
    settings = {k: v for k, v in settings.items() if k not in secret_names}
    options: dict[str, Any] = {}
    if mappings is not None:
        options["mappings"] = mappings
    if rate_share > 1:
        limits = plugin.manifest.rate_limits
        options["rate_limits"] = {name: max(1, budget // rate_share) for name in _BUDGETS
                                  if (budget := getattr(limits, name)) is not None}
    return plugin.create(context=context, settings=settings, secrets=secrets, http=http,
                         options=RuntimeOptions(**options) if options else None)


_BUDGETS = ("requests_per_minute", "requests_per_hour", "requests_per_day", "burst")
