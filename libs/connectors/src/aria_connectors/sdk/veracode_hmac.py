"""Veracode's request signing (``Authorization: VERACODE-HMAC-SHA-256 id=..,ts=..,nonce=..,sig=..``).

Veracode's REST APIs take no static key: every request carries an HMAC-SHA256 signature over
its own host, path with query string and method, keyed through a chain started from the hex API
secret (https://docs.veracode.com/r/c_enabling_hmac, and Veracode's signing libraries):

1. signing data ``id=<key id, lower case>&host=<host, lower case>&url=<path?query>&method=<METHOD>``;
2. ``k_nonce = HMAC(bytes.fromhex(secret), bytes.fromhex(nonce))``;
3. ``k_date = HMAC(k_nonce, str(timestamp in ms))``;
4. ``k_sig = HMAC(k_date, "vcode_request_version_1")``;
5. ``sig = hex(HMAC(k_sig, signing data))``; the nonce is 16 random bytes in hex.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time

import httpx

SCHEME = "VERACODE-HMAC-SHA-256"
REQUEST_VERSION = b"vcode_request_version_1"


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def signature(key_secret: str, signing_data: str, timestamp_ms: int, nonce: str) -> str:
    """The hex signature of ``signing_data`` (ValueError when the secret or nonce is not hex)."""
    k_nonce = _mac(bytes.fromhex(key_secret), bytes.fromhex(nonce))
    k_date = _mac(k_nonce, str(timestamp_ms).encode())
    k_sig = _mac(k_date, REQUEST_VERSION)
    return hmac.new(k_sig, signing_data.encode(), hashlib.sha256).hexdigest()


def authorization(key_id: str, key_secret: str, method: str, url: str | httpx.URL, *,
                  timestamp_ms: int | None = None, nonce: str | None = None) -> str:
    """The ``Authorization`` header value of one request to ``url`` (absolute, with its query)."""
    u = httpx.URL(str(url))
    path = u.raw_path.decode("ascii")  # the path with its query string, as sent
    ts = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    nonce = os.urandom(16).hex() if nonce is None else nonce
    data = f"id={key_id.lower()}&host={u.host.lower()}&url={path}&method={method.upper()}"
    return f"{SCHEME} id={key_id},ts={ts},nonce={nonce},sig={signature(key_secret, data, ts, nonce)}"
