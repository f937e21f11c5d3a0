"""hvac's transport for vault-gateway: its JSON adapter over one urllib3 connection pool.

hvac's own adapters go through a `requests.Session`, whose per-call work (merging session and
environment settings, proxy lookup, cookies, hooks, building a PreparedRequest) cost ~0.7 ms of CPU
per Vault call here against ~0.3 ms for the same call on urllib3 (the pool requests itself uses), and
a lease is one Vault call. hvac stays the client (its API methods build the paths and bodies and
raise its exceptions); only the adapter's `request` is replaced. Differences from requests, on
purpose: no proxies from the environment (Vault is an internal service reached directly) and TLS
verified against the system's CAs or the bundle given as `verify`; connection errors and timeouts
are raised as requests' exceptions, as hvac's callers expect.
"""

from __future__ import annotations

import os
from urllib.parse import urlencode

import orjson
import requests
import urllib3
from hvac.adapters import JSONAdapter
from requests.structures import CaseInsensitiveDict


class Urllib3Adapter(JSONAdapter):
    """Answers 200 with the decoded JSON body, anything else as a `requests.Response` (hvac's
    JSONAdapter contract); non-2xx raise hvac's exceptions."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        verify, cert = self._kwargs.get("verify", True), self._kwargs.get("cert")
        tls: dict = {"cert_reqs": "CERT_REQUIRED" if verify else "CERT_NONE"}
        if isinstance(verify, str):
            tls["ca_cert_dir" if os.path.isdir(verify) else "ca_certs"] = verify
        if cert:
            tls["cert_file"], tls["key_file"] = (cert, None) if isinstance(cert, str) else cert
        # No retries at this level (like requests' adapter): a failed call is the caller's to handle.
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=8, timeout=urllib3.Timeout(total=self._kwargs.get("timeout")),
            retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0,
                                  redirect=5 if self.allow_redirects else 0, raise_on_redirect=False),
            **tls)

    def close(self):
        self._pool.clear()
        super().close()

    def request(self, method, url, headers=None, raise_exception=True, *, params=None, json=None, wrap_ttl=None):
        """The keyword arguments hvac's API methods pass (vault-gateway uses no raw `data` bodies)."""
        while "//" in url:  # as hvac's RawAdapter: Vault reads '//' as '/'
            url = url.replace("//", "/")
        url = self.urljoin(self.base_uri, url)
        headers = dict(headers or {})
        if self.request_header:
            headers["X-Vault-Request"] = "true"
        if self.token:
            headers["X-Vault-Token"] = self.token
        if self.namespace:
            headers["X-Vault-Namespace"] = self.namespace
        if wrap_ttl:
            headers["X-Vault-Wrap-TTL"] = str(wrap_ttl)
        body = None
        if self.strict_http and method.lower() == "list":
            method, params = "get", {**(params or {}), "list": "true"}
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        try:
            raw = self._pool.request(method.upper(), url, body=body, headers=headers)
        except urllib3.exceptions.MaxRetryError as exc:
            raise _as_requests_error(exc.reason or exc) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _as_requests_error(exc) from None
        if raw.status == 200:
            try:
                return orjson.loads(raw.data)
            except orjson.JSONDecodeError:
                pass
        # A requests.Response, as hvac's error handling and its non-200 answers (204...) expect.
        response = requests.Response()
        response.status_code, response._content, response.url = raw.status, raw.data, url
        response.headers, response.encoding = CaseInsensitiveDict(raw.headers), "utf-8"
        if not response.ok and raise_exception and not self.ignore_exceptions:
            self._raise_for_error(method, url, response)
        return response


def _as_requests_error(exc: Exception) -> requests.RequestException:
    if isinstance(exc, urllib3.exceptions.ConnectTimeoutError) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError):
        return requests.ConnectTimeout(type(exc).__name__)
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return requests.Timeout(type(exc).__name__)
    return requests.ConnectionError(type(exc).__name__)
