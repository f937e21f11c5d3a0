"""SSRF guard for every HTTP request a service makes to a user-configured URL.

sync-runner sends all connector traffic (vendor URLs) through one ``httpx.AsyncClient`` built by
``guarded_client``; webhook-ingest sends outbound webhooks (organization endpoints) through one
built with ``follow_redirects=False``. The transport checks each request *before* a connection is
opened — including every redirect hop when redirects are followed, because httpx sends each hop
through the transport again:

* only ``http`` and ``https``;
* the host is resolved and every address must be globally routable: private, loopback,
  link-local (cloud metadata 169.254.169.254), CGNAT, multicast, reserved, unspecified and
  IPv4-mapped forms of these are refused;
* hosts (names, IPs or CIDR ranges) in ``allowlist`` skip the address check (the local stack
  and tests allow 127.0.0.1 and localhost for the vendor simulators);
* the connection goes to the address that was checked (the URL host is replaced by the IP,
  with Host header and TLS SNI kept), so a DNS answer that changes between check and
  connect (DNS rebinding) cannot redirect the request.

A refused request raises what the caller's ``refusal`` factory makes of the message: by default
``OutboundRefused``; sync-runner makes a ConnectorError of class ``configuration`` of it, so the
connector SDK does not retry it and a sync job fails with a clear message.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
Refusal = Callable[[str], Exception]

METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"),     # AWS IPv6
    ipaddress.ip_address("100.100.100.200"),   # Alibaba Cloud
})


class OutboundRefused(Exception):
    """The URL is not one this service may call (a private, loopback, link-local, metadata or
    reserved address, or not http/https)."""


def is_forbidden(ip: IPAddress) -> bool:
    """True for every address that is not a public unicast internet address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return is_forbidden(mapped)
    return (ip in METADATA_ADDRESSES or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or not ip.is_global)


class Allowlist:
    def __init__(self, entries: Iterable[str]):
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    def allows_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        if host in self.hosts:
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.networks)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks (and pins) the destination of each request, then hands it to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport, *, allowlist: Iterable[str],
                 resolver: Resolver = system_resolver, refusal: Refusal = OutboundRefused,
                 who: str = "connectors"):
        self._inner = inner
        self._allow = Allowlist(allowlist)
        self.resolver = resolver
        self._refusal = refusal
        self._who = who

    def allows(self, host: str) -> bool:
        """True if ``host`` is on the allowlist (its addresses are not checked)."""
        return self._allow.allows_host(host)

    async def check(self, url: httpx.URL) -> IPAddress | None:
        """The vetted address to connect to (None: allowlisted, connect as usual); raises if refused."""
        if url.scheme not in ("http", "https"):
            raise self._refusal(f"outbound URL scheme {url.scheme!r} is not allowed (only http and https)")
        host = url.host
        if not host:
            raise self._refusal("outbound URL has no host")
        if self._allow.allows_host(host):
            return None
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                resolved = await self.resolver(host, url.port or (443 if url.scheme == "https" else 80))
            except (OSError, UnicodeError) as exc:
                # Not a policy refusal: DNS may come back, so the SDK treats it as a network error.
                raise httpx.ConnectError(f"cannot resolve {host}: {type(exc).__name__}") from None
            addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolved]
            if not addresses:
                raise httpx.ConnectError(f"cannot resolve {host}")
        for ip in addresses:
            if is_forbidden(ip):
                what = "a cloud metadata address" if ip in METADATA_ADDRESSES else "a private or reserved address"
                raise self._refusal(
                    f"refused outbound request to {host}: it resolves to {what} ({ip}); "
                    f"{self._who} may only call public internet hosts")
        return addresses[0]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pinned = await self.check(request.url)
        if pinned is None or request.url.host == str(pinned):
            return await self._inner.handle_async_request(request)
        # Connect to the vetted address; the caller's request (and so redirect handling) keeps the name.
        extensions = dict(request.extensions)
        if request.url.scheme == "https":
            extensions["sni_hostname"] = request.url.host
        headers = request.headers.copy()
        headers.setdefault("host", request.url.netloc.decode("ascii"))
        to_ip = httpx.Request(request.method, request.url.copy_with(host=str(pinned)), headers=headers,
                              stream=request.stream, extensions=extensions)
        return await self._inner.handle_async_request(to_ip)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _no_cookies() -> CookieJar:
    """One client serves every tenant: never keep a vendor cookie between requests."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context httpx builds by default (certifi's CAs, SSL_CERT_FILE/SSL_CERT_DIR honoured),
    built once per process: loading the CA bundle costs 25-90 ms of CPU, which every job's client
    paid again. An SSLContext is made to be shared by connections; what it reads only changes with
    a deploy (a new certifi or environment), which restarts the process."""
    return httpx.create_ssl_context()


def guarded_client(*, allowlist: Iterable[str], timeout_s: float = 30.0, max_redirects: int = 5,
                   inner: httpx.AsyncBaseTransport | None = None, resolver: Resolver = system_resolver,
                   refusal: Refusal = OutboundRefused, follow_redirects: bool = True,
                   user_agent: str = "aria-sync-runner", who: str = "connectors",
                   max_connections: int | None = None) -> httpx.AsyncClient:
    """The one kind of client all HTTP to user-configured URLs goes through. ``client._transport``
    is the GuardedTransport (its ``resolver`` can be swapped, e.g. by tests)."""
    limits = httpx.Limits(max_connections=max_connections) if max_connections else httpx.Limits()
    transport: httpx.AsyncBaseTransport = GuardedTransport(
        inner or httpx.AsyncHTTPTransport(retries=0, verify=tls_context(), limits=limits), allowlist=allowlist,
        resolver=resolver, refusal=refusal, who=who)
    return httpx.AsyncClient(transport=transport, timeout=timeout_s, follow_redirects=follow_redirects,
                             max_redirects=max_redirects, trust_env=False, cookies=_no_cookies(),
                             headers={"user-agent": user_agent})


def guard_of(client: httpx.AsyncClient) -> GuardedTransport:
    """The GuardedTransport of a client built by ``guarded_client`` (to check a URL before storing it)."""
    transport = client._transport  # httpx keeps the client's transport here; guarded_client set it
    if not isinstance(transport, GuardedTransport):
        raise TypeError("not a guarded client")
    return transport
