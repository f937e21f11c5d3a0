"""Sender side of the generic webhook: what a partner system does to call ARIA.

Written independently of the SDK's verifier on purpose (the conformance suite signs with
this and verifies with the SDK, so a bug on one side cannot hide in both).

    X-Aria-Timestamp:   unix seconds
    X-Aria-Signature:   "sha256=" + hex(HMAC-SHA256(secret, f"{timestamp}.{raw_body}"))
    X-Aria-Delivery-Id: optional, unique per delivery (else ARIA uses sha256 of the body)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

DEMO_SIGNING_SECRET = "demo-signing-secret-0123456789abcdef"


def sign(secret: str, body: bytes, timestamp: int | None = None, delivery_id: str | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    mac = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Aria-Timestamp": ts, "X-Aria-Signature": f"sha256={mac}"}
    if delivery_id:
        headers["X-Aria-Delivery-Id"] = delivery_id
    return headers


def sign_webhook(secrets: dict[str, Any], body: bytes, timestamp: int, delivery_id: str | None = None) -> dict[str, str]:
    """Conformance-suite hook: headers for ``body`` signed with the installation's secrets."""
    return sign(secrets["signing_secret"], body, timestamp, delivery_id)


def sample_events(n: int = 3) -> dict[str, Any]:
    kinds = [
        {"type": "risk", "title": "Public S3 bucket", "severity": "high", "status": "open", "asset_id": "bucket-1"},
        {"type": "alert", "title": "Impossible travel", "severity": "Medium", "detected_at": "2024-05-01T10:00:00Z"},
        {"type": "indicator", "indicator_type": "domain", "value": "evil.example", "severity": "critical",
         "confidence": 80},
        {"type": "vulnerability", "title": "OpenSSL CVE", "severity": "high", "cve_ids": ["CVE-2024-0001"],
         "cvss_score": 8.1},
        {"type": "asset", "name": "laptop-42", "asset_type": "host", "ip_addresses": ["10.0.0.42"]},
    ]
    return {"events": [{"id": f"evt-{i}", **kinds[i % len(kinds)]} for i in range(n)]}


def send(url: str, secret: str, payload: dict[str, Any], *, delivery_id: str | None = None,
         timestamp: int | None = None, client: httpx.Client | None = None) -> httpx.Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = sign(secret, body, timestamp, delivery_id or str(uuid.uuid4()))
    if client is not None:
        return client.post(url, content=body, headers=headers)
    with httpx.Client(timeout=10) as c:
        return c.post(url, content=body, headers=headers)
