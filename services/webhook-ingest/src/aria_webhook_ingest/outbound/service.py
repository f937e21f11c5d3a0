"""Outbound webhooks: an organization's endpoints, the fan-out of events to them, replays.

Sending (signing, retries, disabling) is sender.py. Keyword-only functions over repo.py; the
signing secret goes to vault-gateway and is shown to the admin once, never stored here."""

from __future__ import annotations

import base64
import secrets as random_secrets
import time
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import orjson
import structlog

from aria_contracts import Envelope
from aria_platform.internal import InternalClient
from aria_platform.outbound import GuardedTransport, OutboundRefused
from aria_platform.pagination import decode_cursor, encode_cursor, invalid_cursor
from aria_platform.problems import Problem, not_found

from . import repo

log = structlog.get_logger(__name__)

# What an endpoint can subscribe to: the native entity events (one per entity topic).
EVENT_TYPES = ("risk.observed", "alert.observed", "vulnerability.observed", "asset.observed",
               "indicator.observed", "ticket.observed")
CREDENTIAL_NAME = "outbound_signing"
MAX_URL_LENGTH = 2048
MAX_OVERLAP_S = 7 * 24 * 3600
MAX_REPLAY = 10_000


def new_secret() -> str:
    """A Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(32)).decode()


def message_id(endpoint_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """webhook-id: deterministic per (endpoint, event), so retries and replays carry the same id."""
    return "msg_" + uuid.uuid5(endpoint_id, str(event_id)).hex


def endpoint_not_found() -> Problem:
    return not_found("outbound endpoint")


# --- URL checks ------------------------------------------------------------------------------


async def check_url(guard: GuardedTransport, url: str, *, allowlisted_http: bool) -> str:
    """The URL as stored, or a 422 problem: https only (plain http only for an allowlisted test host),
    no credentials in it, and a host that resolves to public addresses only."""
    if len(url) > MAX_URL_LENGTH:
        raise _bad_url("outbound_url_invalid", f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        raise _bad_url("outbound_url_invalid", "the URL cannot be parsed") from None
    if parsed.userinfo:
        raise _bad_url("outbound_url_invalid", "the URL may not carry a user name or password")
    if not parsed.host:
        raise _bad_url("outbound_url_invalid", "the URL has no host")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and allowlisted_http
                                         and guard.allows(parsed.host)):
        raise _bad_url("outbound_url_invalid", "the URL must use https")
    try:
        await guard.check(parsed)
    except OutboundRefused as exc:
        raise _bad_url("outbound_url_forbidden", str(exc)) from None
    except httpx.ConnectError:
        raise _bad_url("outbound_url_unresolvable", f"{parsed.host} does not resolve") from None
    return str(parsed)


def _bad_url(code: str, detail: str) -> Problem:
    return Problem(422, code, "Endpoint URL not allowed", detail)


def _check_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(event_types))
    unknown = [t for t in chosen if t not in EVENT_TYPES]
    if unknown or not chosen:
        raise Problem(422, "unknown_event_type", "Unknown event type",
                      f"subscribe to one or more of {', '.join(EVENT_TYPES)}", unknown=unknown)
    return chosen


# --- endpoints -------------------------------------------------------------------------------


async def _store_secret(vault: InternalClient, *, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                        secrets: dict[str, str]) -> dict:
    response = await vault.request(
        "PUT", f"/internal/v1/installations/{endpoint_id}/credentials/{CREDENTIAL_NAME}",
        json={"org_id": str(org_id), "kind": CREDENTIAL_NAME, "secrets": secrets})
    if response.status_code != 200:
        log.error("storing an outbound signing secret was refused", status=response.status_code)
        raise Problem(503, "dependency_unavailable", "Dependency unavailable",
                      f"vault-gateway refused to store the signing secret ({response.status_code})",
                      headers={"Retry-After": "5"})
    return response.json()


async def _shred_secret(vault: InternalClient, endpoint_id: uuid.UUID) -> None:
    response = await vault.request("DELETE", f"/internal/v1/installations/{endpoint_id}/credentials")
    if response.status_code != 204:
        raise Problem(503, "dependency_unavailable", "Dependency unavailable",
                      f"vault-gateway refused to shred the signing secret ({response.status_code})",
                      headers={"Retry-After": "5"})


async def create_endpoint(*, pool: asyncpg.Pool, vault: InternalClient, guard: GuardedTransport, actor: str,
                          org_id: uuid.UUID, url: str, description: str, event_types: list[str],
                          allowlisted_http: bool) -> tuple[asyncpg.Record, str]:
    """(the endpoint, its signing secret: shown to the caller this once)."""
    url = await check_url(guard, url, allowlisted_http=allowlisted_http)
    chosen = _check_event_types(event_types)
    endpoint_id, secret = uuid.uuid4(), new_secret()
    stored = await _store_secret(vault, org_id=org_id, endpoint_id=endpoint_id, secrets={"secret": secret})
    try:
        async with pool.acquire() as conn, conn.transaction():
            row = await repo.insert_endpoint(conn, endpoint_id=endpoint_id, org_id=org_id, url=url,
                                             description=description, event_types=chosen,
                                             credential_ref=uuid.UUID(stored["credential_ref"]),
                                             secret_version=stored["version"], actor=actor)
            await repo.audit(conn, org_id=org_id, endpoint_id=endpoint_id, action="created", actor=actor,
                             detail=f"host {httpx.URL(url).host}; events {', '.join(chosen)}")
    except BaseException:
        # Nothing half-written: the secret of an endpoint that was never recorded is shredded.
        try:
            await _shred_secret(vault, endpoint_id)
        except Problem:
            log.warning("could not shred the secret of an endpoint that was not created", endpoint_id=str(endpoint_id))
        raise
    return row, secret


async def get_endpoint(*, pool: asyncpg.Pool, org_id: uuid.UUID, endpoint_id: uuid.UUID) -> asyncpg.Record:
    row = await repo.get_endpoint(pool, org_id=org_id, endpoint_id=endpoint_id)
    if row is None:
        raise endpoint_not_found()
    return row


async def list_endpoints(*, pool: asyncpg.Pool, org_id: uuid.UUID, cursor: str | None, limit: int) -> dict:
    after = decode_cursor(cursor, arity=2)
    if after is not None:
        try:
            after = (datetime.fromisoformat(after[0]), uuid.UUID(after[1]))
        except (TypeError, ValueError):
            raise invalid_cursor() from None
    rows = await repo.list_endpoints(pool, org_id=org_id, after=after, limit=limit + 1)
    page = rows[:limit]
    last = page[-1] if page else None
    return {"items": page, "next_cursor": encode_cursor([last["created_at"].isoformat(), str(last["id"])])
            if len(rows) > limit and last else None}


async def update_endpoint(*, pool: asyncpg.Pool, guard: GuardedTransport, actor: str, org_id: uuid.UUID,
                          endpoint_id: uuid.UUID, url: str | None, description: str | None,
                          event_types: list[str] | None, enabled: bool | None, allowlisted_http: bool,
                          ) -> asyncpg.Record:
    if url is not None:
        url = await check_url(guard, url, allowlisted_http=allowlisted_http)
    chosen = _check_event_types(event_types) if event_types is not None else None
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.get_endpoint(conn, org_id=org_id, endpoint_id=endpoint_id, for_update=True)
        if row is None:
            raise endpoint_not_found()
        turned_on = enabled is True and not row["enabled"]
        updated = await repo.update_endpoint(
            conn, endpoint_id=endpoint_id, url=url or row["url"],
            description=row["description"] if description is None else description,
            event_types=chosen or list(row["event_types"]), enabled=row["enabled"] if enabled is None else enabled,
            clear_failures=turned_on or url is not None)
        changed = [name for name, value in (("url", url), ("description", description), ("event_types", chosen),
                                            ("enabled", enabled)) if value is not None]
        await repo.audit(conn, org_id=org_id, endpoint_id=endpoint_id, action="updated", actor=actor,
                         detail="changed " + ", ".join(changed) if changed else "no change")
    return updated


async def delete_endpoint(*, pool: asyncpg.Pool, vault: InternalClient, actor: str, org_id: uuid.UUID,
                          endpoint_id: uuid.UUID) -> None:
    """The endpoint and its deliveries go; its signing secret is crypto-shredded first."""
    await get_endpoint(pool=pool, org_id=org_id, endpoint_id=endpoint_id)
    await _shred_secret(vault, endpoint_id)
    async with pool.acquire() as conn, conn.transaction():
        await repo.delete_endpoint(conn, endpoint_id)
        await repo.audit(conn, org_id=org_id, endpoint_id=endpoint_id, action="deleted", actor=actor)


async def rotate_secret(*, pool: asyncpg.Pool, vault: InternalClient, secrets_cache, actor: str,
                        org_id: uuid.UUID, endpoint_id: uuid.UUID, overlap_s: int) -> tuple[asyncpg.Record, str]:
    """A new secret (returned this once); the previous one keeps signing for `overlap_s` (both
    signatures on each delivery, which Standard Webhooks verifiers accept), then stops."""
    if not 0 <= overlap_s <= MAX_OVERLAP_S:
        raise Problem(422, "validation_error", "Request is invalid", f"overlap_s must be 0..{MAX_OVERLAP_S}")
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.get_endpoint(conn, org_id=org_id, endpoint_id=endpoint_id, for_update=True)
        if row is None:
            raise endpoint_not_found()
        lease, _ = await secrets_cache.get(installation_id=endpoint_id, credential_ref=str(row["credential_ref"]),
                                           revision=row["secret_version"], max_age_s=0.0)
        current = lease.secrets["secret"]
        secret = new_secret()
        # Vault inside the row's lock and transaction: a failed store changes nothing here; a commit
        # that fails after it leaves the stored secret unused until the admin rotates again.
        stored = await _store_secret(vault, org_id=org_id, endpoint_id=endpoint_id,
                                     secrets={"secret": secret, "previous": current})
        until = datetime.now(timezone.utc) + timedelta(seconds=overlap_s)
        updated = await repo.record_rotation(conn, endpoint_id=endpoint_id, secret_version=stored["version"],
                                             previous_until=until)
        await repo.audit(conn, org_id=org_id, endpoint_id=endpoint_id, action="secret_rotated", actor=actor,
                         detail=f"previous secret signs until {until.isoformat()}")
    return updated, secret


async def audit_trail(*, pool: asyncpg.Pool, org_id: uuid.UUID, endpoint_id: uuid.UUID, limit: int) -> list:
    await get_endpoint(pool=pool, org_id=org_id, endpoint_id=endpoint_id)
    return await repo.audit_trail(pool, endpoint_id=endpoint_id, limit=limit)


# --- deliveries ------------------------------------------------------------------------------


async def list_deliveries(*, pool: asyncpg.Pool, org_id: uuid.UUID, endpoint_id: uuid.UUID, status: str | None,
                          cursor: str | None, limit: int) -> dict:
    """Newest first; `next_cursor` is None on the last page."""
    await get_endpoint(pool=pool, org_id=org_id, endpoint_id=endpoint_id)
    before = decode_cursor(cursor, arity=1)
    rows = await repo.list_deliveries(pool, endpoint_id=endpoint_id, status=status,
                                      before_seq=before[0] if before else None, limit=limit + 1)
    page = rows[:limit]
    return {"items": page, "next_cursor": encode_cursor([page[-1]["seq"]]) if len(rows) > limit else None}


async def replay_delivery(*, pool: asyncpg.Pool, actor: str, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                          delivery_id: uuid.UUID) -> asyncpg.Record:
    """The delivery's event again, as a new delivery with the same webhook-id (a receiver that
    deduplicates by webhook-id and kept it will ignore it)."""
    async with pool.acquire() as conn, conn.transaction():
        if await repo.get_endpoint(conn, org_id=org_id, endpoint_id=endpoint_id) is None:
            raise endpoint_not_found()
        row = await repo.replay_one(conn, endpoint_id=endpoint_id, delivery_id=delivery_id)
        if row is None:
            raise not_found("delivery")
        await repo.audit(conn, org_id=org_id, endpoint_id=endpoint_id, action="replayed", actor=actor,
                         detail=f"delivery {delivery_id}")
    return row


async def replay_range(*, pool: asyncpg.Pool, actor: str, org_id: uuid.UUID, endpoint_id: uuid.UUID,
                       since: datetime, until: datetime) -> int:
    if until <= since:
        raise Problem(422, "validation_error", "Request is invalid", "until must be after since")
    async with pool.acquire() as conn, conn.transaction():
        if await repo.get_endpoint(conn, org_id=org_id, endpoint_id=endpoint_id) is None:
            raise endpoint_not_found()
        count = await repo.replay_range(conn, endpoint_id=endpoint_id, since=since, until=until, limit=MAX_REPLAY)
        await repo.audit(conn, org_id=org_id, endpoint_id=endpoint_id, action="replayed", actor=actor,
                         detail=f"{count} deliveries from {since.isoformat()} to {until.isoformat()}")
    return count


# --- fan-out ---------------------------------------------------------------------------------


class Subscriptions:
    """Each organization's enabled endpoints and their event types, per process, for `ttl_s`: an
    event of an organization without endpoints costs no Postgres round trip. A change made in this
    process drops the organization at once; other replicas see it within `ttl_s`."""

    def __init__(self, pool: asyncpg.Pool, *, ttl_s: float, max_orgs: int = 10_000):
        self._pool, self._ttl, self._max = pool, ttl_s, max_orgs
        self._cache: dict[uuid.UUID, tuple[float, list[tuple[uuid.UUID, frozenset[str]]]]] = {}

    async def endpoints_for(self, org_id: uuid.UUID, event_type: str) -> list[uuid.UUID]:
        hit = self._cache.get(org_id)
        if hit is None or time.monotonic() - hit[0] > self._ttl:
            rows = await repo.subscribed_endpoints(self._pool, org_id)
            if len(self._cache) >= self._max:
                self._cache.pop(next(iter(self._cache)))
            hit = self._cache[org_id] = (time.monotonic(), [(r["id"], frozenset(r["event_types"])) for r in rows])
        return [endpoint_id for endpoint_id, types in hit[1] if event_type in types]

    def forget(self, org_id: uuid.UUID) -> None:
        self._cache.pop(org_id, None)


def body_of(envelope: Envelope) -> bytes:
    """What an endpoint receives (Standard Webhooks' payload shape): type, timestamp, data, and the
    event's id and installation."""
    data = envelope.data if isinstance(envelope.data, dict) else envelope.data.model_dump(mode="json")
    return orjson.dumps({"type": envelope.type, "timestamp": envelope.time.isoformat(), "event_id": str(envelope.event_id),
                         "installation_id": str(envelope.installation_id) if envelope.installation_id else None,
                         "data": data})


async def fan_out(*, pool: asyncpg.Pool, subscriptions: Subscriptions, envelope: Envelope) -> int:
    """One pending delivery per subscribed endpoint (idempotent per endpoint and event). Returns how many."""
    if envelope.type not in EVENT_TYPES:
        return 0  # a type this service does not forward (or an invalid payload, which the untyped envelope took)
    endpoint_ids = await subscriptions.endpoints_for(envelope.org_id, envelope.type)
    if not endpoint_ids:
        return 0
    body = body_of(envelope)
    rows = [(uuid.uuid4(), endpoint_id, envelope.org_id, message_id(endpoint_id, envelope.event_id), envelope.event_id,
             envelope.type, envelope.key, body) for endpoint_id in endpoint_ids]
    return await repo.insert_deliveries(pool, rows)
