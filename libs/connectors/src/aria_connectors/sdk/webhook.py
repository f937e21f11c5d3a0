"""Webhook signature verification and payload mapping, driven by a WebhookSpec."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any, Mapping

from .manifest import WebhookSpec

_DIGESTS = {"hmac-sha256": hashlib.sha256, "hmac-sha1": hashlib.sha1, "hmac-sha512": hashlib.sha512}


# Deepest nesting of a webhook body (objects and arrays). Vendors send a few levels; thousands
# would exhaust the interpreter's recursion (a 500) and hundreds the JSON encoders' limits.
MAX_DEPTH = 32


def nested_deeper_than(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether a parsed JSON value nests objects/arrays more than `limit` levels (iterative)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def body_delivery_id(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lname = name.lower()
    for k, v in headers.items():
        if k.lower() == lname:
            return v
    return None


def delivery_id_of(spec: WebhookSpec, headers: Mapping[str, str], body: bytes) -> str:
    if spec.delivery_id_header:
        value = _header(headers, spec.delivery_id_header)
        if value and value.strip():
            return value.strip()[:200]
    return body_delivery_id(body)


def signed_content(spec: WebhookSpec, body: bytes, timestamp: str | None, delivery_id: str | None) -> bytes:
    template = spec.signature.signed_content
    # Formatted on bytes so a body that is not UTF-8 is still signed exactly as received.
    out = template.encode()
    out = out.replace(b"{timestamp}", (timestamp or "").encode())
    out = out.replace(b"{delivery_id}", (delivery_id or "").encode())
    return out.replace(b"{body}", body)


def replay_key(spec: WebhookSpec, headers: Mapping[str, str], body: bytes) -> str:
    """SHA-256 of exactly what the signature covers (the signed content as verified). Two deliveries
    with the same key carry the same signature, so a second one is a replay whatever delivery id it
    claims, unless the vendor signs the id, when the id is part of the key."""
    ts_value = _header(headers, spec.timestamp.header) if spec.timestamp is not None else None
    delivery_header = _header(headers, spec.delivery_id_header) if spec.delivery_id_header else None
    content = signed_content(spec, body, ts_value.strip() if ts_value else None, delivery_header)
    return "sha256:" + hashlib.sha256(content).hexdigest()


def compute_signature(spec: WebhookSpec, secret: str, content: bytes) -> str:
    mac = hmac.new(secret.encode(), content, _DIGESTS[spec.signature.algorithm]).digest()
    return mac.hex() if spec.signature.encoding == "hex" else base64.b64encode(mac).decode()


def sign(spec: WebhookSpec, secret: str, body: bytes, timestamp: int | str | None = None,
         delivery_id: str | None = None) -> dict[str, str]:
    """Headers a sender following ``spec`` would attach (used by simulators and tests)."""
    headers: dict[str, str] = {}
    ts = None if timestamp is None else str(timestamp)
    if spec.timestamp is not None and ts is not None:
        headers[spec.timestamp.header] = ts
    if delivery_id and spec.delivery_id_header:
        headers[spec.delivery_id_header] = delivery_id
    sig = compute_signature(spec, secret, signed_content(spec, body, ts, delivery_id))
    headers[spec.signature.header] = spec.signature.prefix + sig
    return headers


def parse_timestamp(value: str, fmt: str) -> datetime:
    if fmt == "unix":
        return datetime.fromtimestamp(int(value), timezone.utc)
    if fmt == "unix_ms":
        return datetime.fromtimestamp(int(value) / 1000, timezone.utc)
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def verify(spec: WebhookSpec, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Any],
           now: datetime) -> tuple[bool, str | None]:
    secret = secrets.get(spec.signature.secret_field)
    if not secret:
        return False, "signing secret not configured"
    provided = _header(headers, spec.signature.header)
    if not provided:
        return False, f"missing {spec.signature.header} header"
    provided = provided.strip()
    if spec.signature.prefix:
        if not provided.startswith(spec.signature.prefix):
            return False, "signature has the wrong scheme prefix"
        provided = provided[len(spec.signature.prefix):]
    ts_value: str | None = None
    if spec.timestamp is not None:
        ts_value = _header(headers, spec.timestamp.header)
        if not ts_value:
            return False, f"missing {spec.timestamp.header} header"
        try:
            sent = parse_timestamp(ts_value.strip(), spec.timestamp.format)
        except (ValueError, OverflowError, OSError):
            return False, "unparseable timestamp"
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        if abs((now - sent).total_seconds()) > spec.timestamp.tolerance_seconds:
            return False, "timestamp outside tolerance"
        ts_value = ts_value.strip()
    delivery_header = _header(headers, spec.delivery_id_header) if spec.delivery_id_header else None
    expected = compute_signature(spec, str(secret), signed_content(spec, body, ts_value, delivery_header))
    if spec.signature.encoding == "hex":
        provided = provided.lower()
    if not hmac.compare_digest(provided.encode(), expected.encode()):
        return False, "signature mismatch"
    return True, None


def challenge_response(spec: WebhookSpec, body: bytes) -> dict[str, Any] | None:
    if spec.challenge is None:
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply: not a handshake
        return None
    if isinstance(data, dict) and spec.challenge.request_field in data:
        return {spec.challenge.response_field: data[spec.challenge.request_field]}
    return None
