"""Receive a vendor webhook: admit, verify, dedup, publish. Plain functions; views adapt HTTP.

Order of checks for POST /v1/webhooks/{installation_id} (each failure is problem+json):
unknown / not live installation or connector without webhooks → 404; rate limit → 429; content
type (views) → 415; size (views) → 413; signature with the leased secret → 401; payload → 400; more events than allowed → 422;
then the verified delivery joins a group commit (group_commit.py): one Postgres transaction per
batch inserts the dedup rows (a replay → 200 duplicate: the same delivery id, or the same signed
content under another or no id), publishes the events with acks=all and
commits → 202. Kafka or Postgres failing rolls the batch back → 503, so the vendor's retry is
accepted later and nothing is lost or half-recorded.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone

import asyncpg
import httpx
import structlog

from aria_connectors import BadWebhookPayload, ConnectorPlugin, registry
from aria_contracts.events import WebhookReceived
from aria_platform import kafka
from aria_platform.problems import Problem

from ..endpoints.service import LiveEndpoints, live_endpoint
from .group_commit import DELIVERIES, GroupCommit, Outcome, Verified
from .instances import connector_instance
from .limits import TokenBuckets, retry_after_header
from .secrets import LeasedSecrets, SecretUnavailable
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "webhook-ingest"
# A lease older than this is renewed once when a signature does not verify (the secret may have
# just been replaced); younger leases are trusted, so forged floods cannot hammer vault-gateway.
RELEASE_AFTER_S = 5.0
_REASON_MAX = 300


def endpoint_not_found() -> Problem:
    # One answer for unknown, not live and no-webhook installations: no oracle for probing ids.
    return Problem(404, "webhook_endpoint_not_found", "Webhook endpoint not found",
                   "no live webhook endpoint for this installation")


def _connector(key: str) -> ConnectorPlugin | None:
    try:
        return registry.get(key)
    except registry.UnknownConnector:
        log.warning("unknown connector for webhook endpoint", integration_key=key)
        return None


async def admit(*, endpoints: LiveEndpoints, limiter: TokenBuckets,
                installation_id: uuid.UUID) -> tuple[asyncpg.Record, ConnectorPlugin]:
    """The live endpoint and its connector, or 404; then one token from its bucket, or 429."""
    endpoint = await live_endpoint(endpoints=endpoints, installation_id=installation_id)
    plugin = _connector(endpoint["integration_key"]) if endpoint is not None else None
    if endpoint is None or plugin is None or plugin.manifest.webhook is None:
        DELIVERIES.labels("not_found").inc()
        raise endpoint_not_found()
    wait = limiter.take(installation_id)
    if wait is not None:
        DELIVERIES.labels("rate_limited").inc()
        raise Problem(429, "rate_limited", "Too many deliveries",
                      "this installation's webhook rate limit is exceeded; retry later",
                      headers={"Retry-After": retry_after_header(wait)})
    return endpoint, plugin


async def reject(*, pool: asyncpg.Pool, endpoint: asyncpg.Record, status: int, code: str, title: str, detail: str,
                 delivery_id: str | None = None, payload_sha256: str | None = None) -> Problem:
    """Record a rejected delivery (reason only) and return the problem to answer with."""
    await repo.insert_rejected(pool, installation_id=endpoint["installation_id"], org_id=endpoint["org_id"],
                               delivery_id=delivery_id, payload_sha256=payload_sha256,
                               reason=f"{code}: {detail}"[:_REASON_MAX])
    DELIVERIES.labels(code).inc()
    log.info("webhook rejected", installation_id=str(endpoint["installation_id"]), code=code, reason=detail)
    return Problem(status, code, title, detail)


async def receive(*, pool: asyncpg.Pool, commits: GroupCommit, http: httpx.AsyncClient, secrets: LeasedSecrets,
                  endpoint: asyncpg.Record, plugin: ConnectorPlugin,
                  headers: Mapping[str, str], body: bytes, max_events: int) -> Outcome:
    """Verify, normalize, dedup and publish one delivery whose size and content type were checked;
    one that maps to more than `max_events` events is refused whole (422, nothing published)."""
    installation_id, org_id = endpoint["installation_id"], endpoint["org_id"]
    received_at = datetime.now(timezone.utc)
    payload_sha256 = hashlib.sha256(body).hexdigest()
    # The installation's own webhook secret wins over a signing field of the connector credential.
    wanted = dict(installation_id=installation_id, revision=endpoint["revision"],
                  credential_ref=endpoint["webhook_credential_ref"] or endpoint["credential_ref"])
    try:
        lease, age = await secrets.get(**wanted)
    except SecretUnavailable:
        raise await reject(pool=pool, endpoint=endpoint, status=401, code="signing_secret_unavailable",
                           title="Webhook cannot be verified", payload_sha256=payload_sha256,
                           detail="no signing secret is configured for this installation") from None
    instance = connector_instance(plugin=plugin, endpoint=endpoint, lease=lease, http=http)
    verdict = instance.verify_webhook(headers, body, lease.secrets, datetime.now(timezone.utc))
    if not verdict.ok and age >= RELEASE_AFTER_S:
        lease, _ = await secrets.get(**wanted, max_age_s=RELEASE_AFTER_S)
        verdict = instance.verify_webhook(headers, body, lease.secrets, datetime.now(timezone.utc))
    if not verdict.ok:
        raise await reject(pool=pool, endpoint=endpoint, status=401, code="invalid_signature",
                           title="Webhook signature rejected", detail=verdict.reason or "signature not valid",
                           delivery_id=verdict.delivery_id, payload_sha256=payload_sha256)
    if verdict.challenge_response is not None:
        # URL-verification handshake: answered, nothing recorded or published.
        DELIVERIES.labels("challenge").inc()
        return Outcome(200, verdict.challenge_response)

    try:
        events = instance.webhook_events(headers, body, verdict.delivery_id)
    except BadWebhookPayload as exc:
        raise await reject(pool=pool, endpoint=endpoint, status=400, code="malformed_payload",
                           title="Webhook payload not understood", detail=exc.message,
                           delivery_id=verdict.delivery_id, payload_sha256=payload_sha256) from None
    except Exception:
        log.exception("connector failed on a webhook", integration_key=endpoint["integration_key"],
                      installation_id=str(installation_id))
        await reject(pool=pool, endpoint=endpoint, status=500, code="webhook_processing_failed",
                     title="Webhook processing failed", detail="the connector failed on this payload",
                     delivery_id=verdict.delivery_id, payload_sha256=payload_sha256)
        raise Problem(500, "webhook_processing_failed", "Webhook processing failed",
                      "the error was logged; retry later") from None

    if len(events) > max_events:
        raise await reject(pool=pool, endpoint=endpoint, status=422, code="too_many_events",
                           title="Webhook maps to too many events",
                           detail=f"{len(events)} events; at most {max_events} per delivery",
                           delivery_id=verdict.delivery_id, payload_sha256=payload_sha256)
    received = WebhookReceived(installation_id=installation_id, org_id=org_id,
                               integration_key=endpoint["integration_key"], delivery_id=verdict.delivery_id,
                               payload_sha256=payload_sha256, event_count=len(events),
                               received_at=received_at)
    # Encoded here, in the request's trace context, straight from the validated payloads (the same
    # JSON as an Envelope would make, without building and validating one per event).
    messages = kafka.encode_many([*events, received], source=SOURCE, org_id=org_id, installation_id=installation_id)
    return await commits.submit(Verified(installation_id=installation_id, org_id=org_id,
                                         delivery_id=verdict.delivery_id, payload_sha256=payload_sha256,
                                         replay_key=verdict.replay_key, event_count=len(events),
                                         messages=messages))


def encode_cursor(row_id: int) -> str:
    return f"d{row_id}"


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not (cursor.startswith("d") and cursor[1:].isdigit()):
        raise Problem(400, "invalid_cursor", "Invalid cursor", "use the next_cursor of a previous page")
    return int(cursor[1:])


async def list_deliveries(*, pool: asyncpg.Pool, installation_id: uuid.UUID, org_id: uuid.UUID | None,
                          cursor: str | None, limit: int) -> dict:
    """Newest first; `next_cursor` is None on the last page."""
    rows = await repo.list_deliveries(pool, installation_id=installation_id, org_id=org_id,
                                      before_id=decode_cursor(cursor), limit=limit + 1)
    page = rows[:limit]
    return {"items": [dict(r) for r in page],
            "next_cursor": encode_cursor(page[-1]["id"]) if len(rows) > limit else None}
