"""The installer's own clients, built once at start and read by views as ``rt.deps_of(InstallerDeps)``."""

from __future__ import annotations

from dataclasses import dataclass

from aria_platform.internal import InternalClient
from aria_platform.runtime import Runtime

from .settings import InstallerSettings


@dataclass(frozen=True)
class InstallerDeps:
    vault_gateway: InternalClient  # stores and rotates credentials
    sync_runner: InternalClient  # tests connections, previews, lists and cancels sync jobs
    webhook_ingest: InternalClient  # reads an installation's webhook deliveries


async def wire(rt: Runtime) -> None:
    """on_start hook."""
    s: InstallerSettings = rt.settings  # type: ignore[assignment]
    rt.deps = InstallerDeps(vault_gateway=rt.internal_client(s.vault_gateway_url, target="vault-gateway"),
                            sync_runner=rt.internal_client(s.sync_runner_url, target="sync-runner"),
                            webhook_ingest=rt.internal_client(s.webhook_ingest_url, target="webhook-ingest"))
