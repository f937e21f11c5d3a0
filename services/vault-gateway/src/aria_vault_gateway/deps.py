"""vault-gateway's own client, built once at start and read as ``rt.deps_of(VaultGatewayDeps)``."""

from __future__ import annotations

from dataclasses import dataclass

from aria_platform.runtime import Runtime

from .settings import VaultGatewaySettings
from .vault import Vault


@dataclass(frozen=True)
class VaultGatewayDeps:
    vault: Vault  # the service's one Vault session (AppRole login, renewed by main._maintain)


async def wire(rt: Runtime) -> None:
    """on_start hook."""
    s: VaultGatewaySettings = rt.settings  # type: ignore[assignment]
    rt.deps = VaultGatewayDeps(vault=Vault(
        addr=s.vault_addr, role_id=s.vault_role_id, secret_id=s.vault_secret_id.get_secret_value(),
        transit_mount=s.vault_transit_mount, kv_mount=s.vault_kv_mount,
        ciphertext_cache_size=s.vault_ciphertext_cache_size))
