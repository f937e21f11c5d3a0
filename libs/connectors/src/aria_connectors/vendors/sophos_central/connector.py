"""Sophos Central's tenant discovery (https://developer.sophos.com/getting-started-tenant and
https://developer.sophos.com/getting-started): every credential calls the global host's
``GET /whoami/v1`` first. A tenant credential gets its own id and ``apiHosts.dataRegion``; a
partner or organization credential gets its id (sent as ``X-Partner-ID`` /
``X-Organization-ID``) and reads the chosen tenant, ``GET /{partner|organization}/v1/tenants/{id}``,
whose ``apiHost`` is the data region. Tenant-level calls then go to that host with
``X-Tenant-ID``. Only Sophos hosts (``https://api[-<region>].central.sophos.com``) or the
configured API host itself are accepted."""

from __future__ import annotations

from typing import Any

from aria_connectors.errors import ConfigurationError, PermanentError
from aria_connectors.sdk.connector import DeclarativeConnector
from aria_connectors.sdk.discovery import DiscoveringApiClient, Target

SOPHOS_HOSTS = r"https://api(-[a-z0-9]+)?(\.[a-z0-9-]+)?\.central\.sophos\.com"
ID_HEADERS = {"partner": "X-Partner-ID", "organization": "X-Organization-ID"}


class SophosCentralConnector(DeclarativeConnector):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert self.api is not None
        self.api = DiscoveringApiClient.around(self.api, self.whoami, allowed=SOPHOS_HOSTS)

    async def whoami(self, api: DiscoveringApiClient) -> Target:
        me = await api.home_json("GET", "/whoami/v1", what="whoami")
        kind, hosts = me.get("idType"), me.get("apiHosts") or {}
        if kind == "tenant":
            if not hosts.get("dataRegion") or not me.get("id"):
                raise PermanentError("whoami: a tenant without id or apiHosts.dataRegion")
            return Target(hosts["dataRegion"], {"X-Tenant-ID": me["id"]})
        if kind not in ID_HEADERS:
            raise PermanentError(f"whoami: unknown idType {kind!r}")
        tenant_id = self.settings.get("tenant_id")
        if not tenant_id:
            raise ConfigurationError(f"a {kind} credential needs the tenant_id of the tenant to read")
        glob = hosts.get("global") or api.home_url
        tenant = await api.home_json("GET", f"{glob.rstrip('/')}/{kind}/v1/tenants/{tenant_id}",
                                     headers={ID_HEADERS[kind]: me["id"]}, what=f"{kind} tenant lookup")
        if not tenant.get("apiHost"):
            raise PermanentError(f"tenant {tenant_id} has no apiHost")
        return Target(tenant["apiHost"], {"X-Tenant-ID": tenant.get("id") or tenant_id})

    def transform_record(self, stream: str, record: Any) -> Any:
        """Sophos writes an endpoint's OS version as integers (``os.majorVersion``, ``minorVersion``,
        ``build``): joined here as ``aria_os_version`` "10.0.18363" for the asset's os_version."""
        os_ = record.get("os") if stream == "endpoints" and isinstance(record, dict) else None
        if isinstance(os_, dict):
            parts = [os_.get(k) for k in ("majorVersion", "minorVersion", "build")]
            if parts[0] is not None:
                record = {**record, "aria_os_version": ".".join(str(p) for p in parts if p is not None)}
        return record

    async def disconnect(self) -> None:
        if isinstance(self.api, DiscoveringApiClient):
            self.api.forget()
        await super().disconnect()
