"""The SSRF guard refuses before connecting: the inner transport records every request it would send."""

import httpx
import pytest

from aria_connectors.errors import ConnectorError
from aria_sync_runner.outbound import GuardedTransport, OutboundRefused, guarded_client, is_forbidden


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, handler=None):
        self.sent: list[httpx.Request] = []
        self._handler = handler or (lambda r: httpx.Response(200, json={"ok": True}))

    async def handle_async_request(self, request):
        self.sent.append(request)
        return self._handler(request)


def resolver_for(table):
    async def resolve(host, port):
        if host not in table:
            raise OSError("NXDOMAIN")
        return table[host]
    return resolve


def client(recorder, allowlist=(), table=None):
    return guarded_client(allowlist=allowlist, inner=recorder, resolver=resolver_for(table or {}))


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://127.0.0.1:8080/", "http://[::1]/",
    "http://192.168.1.10/", "http://172.16.0.1/", "http://100.64.0.1/", "http://0.0.0.0/", "http://224.0.0.1/",
    "http://[::ffff:10.0.0.1]/", "http://[fd00:ec2::254]/", "http://240.0.0.1/",
])
async def test_private_reserved_and_metadata_addresses_are_refused_before_connecting(url):
    recorder = Recorder()
    async with client(recorder) as http:
        with pytest.raises(OutboundRefused) as refused:
            await http.get(url)
    assert recorder.sent == []
    assert isinstance(refused.value, ConnectorError) and refused.value.error_class == "configuration"


async def test_metadata_refusal_says_so():
    async with client(Recorder()) as http:
        with pytest.raises(OutboundRefused, match="cloud metadata address"):
            await http.get("http://169.254.169.254/latest/meta-data/")


async def test_names_resolving_to_private_addresses_are_refused():
    recorder = Recorder()
    table = {"internal.example": ["93.184.215.14", "10.1.2.3"], "localhost": ["127.0.0.1"]}
    async with client(recorder, table=table) as http:
        for url in ("https://internal.example/", "http://localhost:9000/"):
            with pytest.raises(OutboundRefused):
                await http.get(url)
    assert recorder.sent == []


async def test_loopback_is_allowed_only_when_allowlisted():
    recorder = Recorder()
    async with client(recorder, allowlist=["127.0.0.1", "localhost"], table={"localhost": ["127.0.0.1"]}) as http:
        assert (await http.get("http://127.0.0.1:8080/x")).status_code == 200
        assert (await http.get("http://localhost:8080/y")).status_code == 200
        with pytest.raises(OutboundRefused):
            await http.get("http://10.0.0.1/")  # allowlisting loopback allows nothing else
    assert [str(r.url) for r in recorder.sent] == ["http://127.0.0.1:8080/x", "http://localhost:8080/y"]


async def test_cidr_allowlist_entries():
    recorder = Recorder()
    async with client(recorder, allowlist=["10.20.0.0/16"]) as http:
        assert (await http.get("http://10.20.3.4/")).status_code == 200
        with pytest.raises(OutboundRefused):
            await http.get("http://10.21.0.1/")


async def test_only_http_and_https():
    transport = GuardedTransport(Recorder(), allowlist=[])
    for url in ("ftp://files.example/x", "file:///etc/passwd", "gopher://x.example/"):
        with pytest.raises(OutboundRefused, match="scheme"):
            await transport.check(httpx.URL(url))


async def test_every_redirect_hop_is_checked():
    def handler(request):
        if request.url.path == "/start":
            return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/iam"})
        return httpx.Response(200)

    recorder = Recorder(handler)
    async with client(recorder, allowlist=["127.0.0.1"]) as http:
        with pytest.raises(OutboundRefused, match="169.254.169.254"):
            await http.get("http://127.0.0.1:9/start")
    assert [r.url.path for r in recorder.sent] == ["/start"]


async def test_public_names_are_pinned_to_the_checked_address():
    """DNS rebinding: the connection goes to the vetted IP, with the original Host header and SNI."""
    recorder = Recorder()
    async with client(recorder, table={"api.vendor.example": ["93.184.215.14"]}) as http:
        response = await http.get("https://api.vendor.example/v1/things?q=1")
    [sent] = recorder.sent
    assert sent.url.host == "93.184.215.14" and sent.url.path == "/v1/things" and sent.url.query == b"q=1"
    assert sent.headers["host"] == "api.vendor.example"
    assert sent.extensions["sni_hostname"] == "api.vendor.example"
    assert response.request.url.host == "api.vendor.example"


async def test_unresolvable_names_are_network_errors_not_refusals():
    async with client(Recorder()) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("https://nowhere.invalid/")


async def test_cookies_are_never_kept_between_requests():
    def handler(request):
        return httpx.Response(200, headers={"set-cookie": "session=tenant-a; Path=/"})

    recorder = Recorder(handler)
    async with client(recorder, allowlist=["127.0.0.1"]) as http:
        await http.get("http://127.0.0.1:9/a")
        await http.get("http://127.0.0.1:9/b")
    assert "cookie" not in recorder.sent[1].headers


def test_public_addresses_are_allowed():
    import ipaddress

    assert is_forbidden(ipaddress.ip_address("203.0.113.7"))  # documentation range: not routable
    assert not is_forbidden(ipaddress.ip_address("8.8.8.8"))
    assert not is_forbidden(ipaddress.ip_address("2606:4700:4700::1111"))
    assert is_forbidden(ipaddress.ip_address("169.254.169.254"))


def test_allowlist_comes_from_a_comma_separated_environment_variable(monkeypatch):
    from aria_sync_runner.settings import SyncRunnerSettings

    monkeypatch.setenv("ARIA_OUTBOUND_ALLOWLIST", "127.0.0.1, localhost,10.20.0.0/16")
    settings = SyncRunnerSettings(database_url="postgresql://unused/db")
    assert settings.outbound_allowlist == ["127.0.0.1", "localhost", "10.20.0.0/16"]
    monkeypatch.delenv("ARIA_OUTBOUND_ALLOWLIST")
    assert SyncRunnerSettings(database_url="postgresql://unused/db").outbound_allowlist == []
