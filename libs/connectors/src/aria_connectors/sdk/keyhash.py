"""API key + key id headers, optionally with a per-request nonce hash (``api_key_id`` auth).

Palo Alto Cortex XDR "standard" keys send ``Authorization: <key>`` and ``x-xdr-auth-id: <id>``.
"Advanced" keys never send the key: each request carries a fresh 64-character nonce
(``x-xdr-nonce``), the time in epoch milliseconds (``x-xdr-timestamp``) and
``Authorization: sha256(key + nonce + timestamp)`` in hex; the tenant refuses a timestamp more than
5 minutes off. https://docs-cortex.paloaltonetworks.com/r/Cortex-XDR-REST-API/Get-Started-with-Cortex-XDR-APIs
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from typing import Callable

from .manifest import ApiKeyIdAuth

_NONCE_ALPHABET = string.ascii_letters + string.digits


def nonce_digest(key: str, nonce: str, timestamp: str, *, content: str = "{key}{nonce}{timestamp}",
                 algorithm: str = "sha256") -> str:
    """The hex digest an advanced key's request carries in place of the key."""
    signed = content.replace("{key}", key).replace("{nonce}", nonce).replace("{timestamp}", timestamp)
    return hashlib.new(algorithm, signed.encode()).hexdigest()


def api_key_id_headers(spec: ApiKeyIdAuth, render: Callable[[str], str],
                       clock: Callable[[], float] = time.time) -> dict[str, str]:
    """The request headers of one call (a new nonce and timestamp every time when hashed)."""
    key, key_id = render(spec.value), render(spec.key_id)
    headers = {spec.key_id_header: key_id}
    hashed = spec.nonce_hash
    if hashed is None:
        headers[spec.header] = key
        return headers
    nonce = "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(hashed.nonce_length))
    timestamp = str(int(clock() * 1000))
    headers[hashed.nonce_header] = nonce
    headers[hashed.timestamp_header] = timestamp
    headers[spec.header] = nonce_digest(key, nonce, timestamp, content=hashed.signed_content,
                                        algorithm=hashed.algorithm)
    return headers


__all__ = ["api_key_id_headers", "nonce_digest"]
