"""Where an installation's calls go, learnt from a call.

Some vendors answer every credential on one global host and name the host (and the headers)
the data lives behind only in an identity call: Sophos Central's ``GET /whoami/v1`` gives the
tenant's ``apiHosts.dataRegion`` and the ``X-Tenant-ID`` to send. ``DiscoveringApiClient`` is an
``ApiClient`` that, before its first request, runs the connector's ``discover`` coroutine against
the configured (home) host and then sends every request to the host it found, with its headers.

The discovered host is a vendor-supplied origin, so it must pass ``allowed`` (a regular
expression over ``scheme://host[:port]``) or be the home origin itself: credentials never
follow a host the vendor's answer names unless the connector says such hosts are the vendor's.
``forget()`` drops the target (a new discovery at the next request), e.g. on disconnect.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import httpx

from ..errors import PermanentError
from .http import ApiClient, decode_json


@dataclass(frozen=True)
class Target:
    """The host an installation's requests go to and the headers they carry there."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)


Discover = Callable[["DiscoveringApiClient"], Awaitable[Target]]


def origin(url: str) -> str:
    u = httpx.URL(url)
    default = {"http": 80, "https": 443}.get(u.scheme)
    port = f":{u.port}" if u.port is not None and u.port != default else ""
    return f"{u.scheme}://{u.host}{port}"


class DiscoveringApiClient(ApiClient):
    """An ApiClient whose base URL and extra headers come from ``discover`` (run once, lazily)."""

    def __init__(self, *, discover: Discover, allowed: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.home_url = self.base_url
        self.home_headers = dict(self.default_headers)
        self.target: Target | None = None
        self._discover = discover
        self._allowed = re.compile(allowed) if allowed else None
        self._lock = asyncio.Lock()

    @classmethod
    def around(cls, api: ApiClient, discover: Discover, allowed: str | None = None) -> "DiscoveringApiClient":
        """The same client (auth, budget, retries, headers, error rules) with discovery in front."""
        return cls(discover=discover, allowed=allowed, base_url=api.base_url, auth=api.auth, http=api.http,
                   retry=api.retry, limits=api.limits, default_headers=dict(api.default_headers),
                   timeout=api.timeout, error_rules=api.error_rules, response_prefix=api.response_prefix)

    async def home_json(self, method: str, path: str, **kw: Any) -> Any:
        """A JSON call to the home host, for ``discover`` (no discovered headers are sent)."""
        url = path if path.startswith(("http://", "https://")) else f"{self.home_url}/{path.lstrip('/')}"
        if origin(url) != origin(self.home_url):
            self.check(url)
        # ApiClient.request itself: this client's request() waits for the discovery under way
        return decode_json(await ApiClient.request(self, method, url, **kw), kw.get("what", "discovery"))

    def check(self, url: str) -> str:
        """``url``'s origin if a request may go there (the home origin, or one ``allowed`` matches)."""
        found = origin(url)
        if found == origin(self.home_url) or (self._allowed is not None and self._allowed.fullmatch(found)):
            return found
        raise PermanentError(f"discovered API host {found} is not one of the vendor's")

    async def ensure_target(self) -> Target:
        async with self._lock:
            if self.target is None:
                target = await self._discover(self)
                self.check(target.base_url)
                self.base_url = target.base_url.rstrip("/")
                self.default_headers = {**self.home_headers, **target.headers}
                self.target = target
            return self.target

    def forget(self) -> None:
        self.target = None
        self.base_url = self.home_url
        self.default_headers = dict(self.home_headers)

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        await self.ensure_target()
        return await super().request(method, path, **kw)


__all__ = ["Discover", "DiscoveringApiClient", "Target", "origin"]
