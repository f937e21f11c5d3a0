"""The SSRF guard (``aria_platform.outbound``) as connectors use it: a refusal is a ConnectorError of
class ``configuration``, so the connector SDK does not retry it and a sync job fails with a clear
message. Everything else (address rules, allowlist, DNS pinning, redirect checks) is the lib's."""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from aria_connectors.errors import ConnectorError
from aria_platform import outbound as guard
from aria_platform.outbound import METADATA_ADDRESSES, Allowlist, Resolver, is_forbidden, system_resolver, tls_context

__all__ = ["METADATA_ADDRESSES", "Allowlist", "GuardedTransport", "OutboundRefused", "guarded_client",
           "is_forbidden", "system_resolver", "tls_context"]


class OutboundRefused(ConnectorError, guard.OutboundRefused):
    """The URL is not one a connector may call."""

    def __init__(self, message: str) -> None:
        super().__init__("configuration", message)


class GuardedTransport(guard.GuardedTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, *, allowlist: Iterable[str],
                 resolver: Resolver = system_resolver):
        super().__init__(inner, allowlist=allowlist, resolver=resolver, refusal=OutboundRefused)


def guarded_client(*, allowlist: Iterable[str], timeout_s: float = 30.0, max_redirects: int = 5,
                   inner: httpx.AsyncBaseTransport | None = None, resolver: Resolver = system_resolver,
                   ) -> httpx.AsyncClient:
    """The one kind of client all connector HTTP goes through (redirects followed, each hop checked)."""
    return guard.guarded_client(allowlist=allowlist, timeout_s=timeout_s, max_redirects=max_redirects, inner=inner,
                                resolver=resolver, refusal=OutboundRefused)
