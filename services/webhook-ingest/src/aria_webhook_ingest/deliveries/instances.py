"""The installation's connector instance, reused across its deliveries.

Building a connector instance (settings with their defaults, limits, retry policy, mapping plan)
cost ~15 µs per delivery, about 2 % of a delivery's CPU. An instance is an installation's
configuration and secrets; verifying and normalizing a webhook change nothing in it (the SDK
builds one per installation). So one is reused while deliveries come with the very same endpoint
row and lease it was built from: a new endpoint row (every lifecycle change drops the cached row
through its NOTIFY, endpoints/service.py) or a new lease (expiry, a new revision, the renewal after
a failed signature) builds a new instance. It is kept on the lease (secrets.py), so the copy of the
secrets it holds is dropped with the lease, never kept or used past it.
"""

from __future__ import annotations

import asyncpg
import httpx

from aria_connectors import ConnectorPlugin, DeclarativeConnector, InstallationContext, RuntimeOptions
from aria_connectors.sdk.data_mappings import MappingSet

from .secrets import Lease


def connector_instance(*, plugin: ConnectorPlugin, endpoint: asyncpg.Record, lease: Lease,
                       http: httpx.AsyncClient) -> DeclarativeConnector:
    """The installation's connector instance built from exactly this endpoint row and lease."""
    if lease.built is not None and lease.built[0] is endpoint and lease.built[1] is plugin:
        return lease.built[2]
    # The endpoint row's set, parsed once per instance (the instance is reused across deliveries).
    mappings = endpoint["mappings"]
    instance = plugin.create(
        context=InstallationContext(org_id=endpoint["org_id"], installation_id=endpoint["installation_id"],
                                    integration_key=endpoint["integration_key"]),
        settings=dict(endpoint["settings"] or {}), secrets=lease.secrets, http=http,
        options=RuntimeOptions(mappings=MappingSet.parse(mappings)) if mappings is not None else None)
    lease.built = (endpoint, plugin, instance)
    return instance
