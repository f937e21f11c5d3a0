"""Try demo: a sandbox installation of an integration against its vendor simulator, with the
simulator's sample data, marked `demo` everywhere it is shown; uninstalling it throws it away.

Local stack only: the simulators run there, and `ARIA_DEMO_CONFIGS` names each one's configuration
(settings.demo_configs, empty by default). It goes through the same steps a user's installation
does (install → configure → enable → sync now), so a demo is what the real thing would look like.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from aria_platform.auth import Principal
from aria_platform.internal import InternalClient
from aria_platform.problems import Problem

from ..installations import service as installations


def available(demo_configs: dict[str, dict[str, Any]]) -> list[str]:
    """Integration keys that have a demo, sorted."""
    return sorted(demo_configs)


async def open_demo(*, pool: asyncpg.Pool, vault_gateway: InternalClient, principal: Principal,
                    integration_key: str, demo_configs: dict[str, dict[str, Any]]) -> tuple[asyncpg.Record, bool]:
    """The organization's demo of the integration, set up and syncing. Returns (installation,
    created); an open demo is returned as it is (a half set-up one is finished)."""
    config = demo_configs.get(integration_key)
    if config is None:
        raise Problem(404, "demo_unavailable", "No demo for this integration",
                      f"{integration_key!r} has no simulator to try it against here")
    row, created = await installations.install(pool=pool, principal=principal, integration_key=integration_key,
                                               idempotency_key=None, demo=True)
    if row["status"] == "configuring":
        row = await installations.configure(pool=pool, vault_gateway=vault_gateway, principal=principal,
                                            installation_id=row["id"], config=dict(config), sync_frequency="manual")
    if row["status"] == "disabled":
        row = await installations.change_state(pool=pool, principal=principal, installation_id=row["id"],
                                               action="enable")
        await installations.request_sync(pool=pool, principal=principal, installation_id=row["id"],
                                         sync_type="full", request_id=None)
    return await installations.get(pool=pool, principal=principal, installation_id=row["id"]), created
