"""Sends due outbound deliveries: signed (Standard Webhooks), through the SSRF guard, retried with
exponential backoff and jitter on a schedule kept in Postgres, and disables an endpoint that keeps
failing.

Each replica runs one sender loop. A pass claims up to `batch` due deliveries (repo.claim_due:
`FOR UPDATE SKIP LOCKED`, pushed `lease_s` ahead, so replicas never send the same delivery at
once and a replica that dies leaves them due again), sends them concurrently, then records every
outcome, the endpoints' failure runs, and any disabling (event through the outbox + audit row) in
one transaction. A crash between a receiver's 2xx and that commit sends the delivery again with
the same webhook-id: at least once on the wire, receivers deduplicate by webhook-id.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx
import structlog
from prometheus_client import Counter, Histogram
from standardwebhooks.webhooks import Webhook

from aria_contracts.events import OutboundEndpointDisabled
from aria_platform.outbound import OutboundRefused
from aria_platform.outbox import enqueue, traced
from aria_platform.problems import Problem

from ..deliveries.secrets import LeasedSecrets, SecretUnavailable
from . import repo

log = structlog.get_logger(__name__)
SOURCE = "webhook-ingest"
OUTCOMES = Counter("aria_outbound_deliveries_total", "Outbound webhook delivery attempts by outcome", ["outcome"])
LATENCY = Histogram("aria_outbound_delivery_seconds", "Time for an endpoint to answer a delivery")
MAX_ERROR = 300


@dataclass(frozen=True)
class SenderSettings:
    batch: int = 200
    concurrency: int = 64
    lease_s: float = 60.0
    poll_interval_s: float = 1.0
    linger_s: float = 0.02
    timeout_s: float = 10.0
    backoff_base_s: float = 5.0
    backoff_max_s: float = 3600.0
    retry_window_s: float = 26 * 3600.0
    disable_after_s: float = 3 * 24 * 3600.0
    retention_s: float = 30 * 24 * 3600.0


def backoff_s(attempts: int, *, base_s: float, max_s: float, rng: random.Random) -> float:
    """Exponential backoff with jitter: base * 2^(attempts-1), capped, times a random 0.5..1."""
    return min(max_s, base_s * 2 ** min(attempts - 1, 30)) * (0.5 + rng.random() / 2)


def signers(lease_secrets: dict, previous_until: datetime | None, now: datetime) -> list[Webhook]:
    """The current secret, and the previous one while the rotation overlap lasts."""
    keys = [lease_secrets["secret"]]
    if lease_secrets.get("previous") and previous_until is not None and now < previous_until:
        keys.append(lease_secrets["previous"])
    return [Webhook(key) for key in keys]


@dataclass
class Outcome:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    ok: bool
    code: int | None = None
    error: str | None = None


class Sender:
    def __init__(self, *, pool: asyncpg.Pool, client: httpx.AsyncClient, secrets: LeasedSecrets,
                 settings: SenderSettings, rng: random.Random | None = None):
        self._pool, self._client, self._secrets, self.settings = pool, client, secrets, settings
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._purged_at = 0.0

    def wake(self) -> None:
        """New deliveries were queued in this process: pass now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """The loop (a background hook); never ends on an error, only when cancelled."""
        while True:
            try:
                sent = await self.pass_once()
                await self._purge()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbound sender pass failed")
                sent = 0
            if sent < self.settings.batch:
                # Not a full batch: wait for new deliveries (a wake-up or the poll), then linger a
                # moment so a stream of fan-outs is sent as one batch rather than a pass each.
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval_s)
                    await asyncio.sleep(self.settings.linger_s)
                except TimeoutError:
                    pass

    async def pass_once(self) -> int:
        s = self.settings
        claimed = await repo.claim_due(self._pool, limit=s.batch, lease_s=s.lease_s)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(s.concurrency)

        async def one(row) -> Outcome:
            async with gate:
                return await self._send(row)

        outcomes = await asyncio.gather(*(one(row) for row in claimed))
        await self._record(claimed, outcomes)
        return len(claimed)

    async def _signers_for(self, row, now: datetime) -> list[Webhook]:
        """Signers built from the endpoint's leased secret (kept on the lease, so they live as long
        as it does; a rotation is a new secret_version, so a new lease)."""
        lease, _ = await self._secrets.get(installation_id=row["endpoint_id"], credential_ref=str(row["credential_ref"]),
                                           revision=row["secret_version"])
        overlap = row["previous_secret_until"] is not None and now < row["previous_secret_until"]
        if lease.built is None or lease.built[0] != overlap:
            lease.built = (overlap, signers(lease.secrets, row["previous_secret_until"], now))
        return lease.built[1]

    async def _send(self, row) -> Outcome:
        now = datetime.now(timezone.utc)
        out = Outcome(row["id"], row["endpoint_id"], ok=False)
        try:
            keys = await self._signers_for(row, now)
        except (SecretUnavailable, Problem) as exc:
            out.error = f"signing secret unavailable: {exc}"[:MAX_ERROR]
            OUTCOMES.labels("secret_unavailable").inc()
            return out
        body = bytes(row["body"])
        signature = " ".join(k.sign(row["message_id"], now, body) for k in keys)
        headers = {"content-type": "application/json", "webhook-id": row["message_id"],
                   "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signature}
        started = time.perf_counter()
        try:
            # Streamed and closed unread: a receiver's answer body is never loaded. Redirects are not
            # followed (the client's setting): a 3xx is a failed attempt.
            async with self._client.stream("POST", row["url"], content=body, headers=headers,
                                           timeout=self.settings.timeout_s) as response:
                out.code = response.status_code
        except OutboundRefused as exc:
            out.error = str(exc)[:MAX_ERROR]
            OUTCOMES.labels("refused").inc()
            log.warning("outbound delivery refused by the SSRF guard", endpoint_id=str(row["endpoint_id"]))
            return out
        except httpx.HTTPError as exc:
            out.error = f"{type(exc).__name__}: no answer from the endpoint"[:MAX_ERROR]
            OUTCOMES.labels("network_error").inc()
            return out
        LATENCY.observe(time.perf_counter() - started)
        out.ok = 200 <= out.code < 300
        if not out.ok:
            out.error = f"endpoint answered {out.code}"
        OUTCOMES.labels("delivered" if out.ok else f"{out.code // 100}xx").inc()
        return out

    async def _record(self, claimed, outcomes: list[Outcome]) -> None:
        s = self.settings
        now = datetime.now(timezone.utc)
        by_id = {row["id"]: row for row in claimed}
        ids, statuses, next_at, codes, errors = [], [], [], [], []
        for out in outcomes:
            row = by_id[out.delivery_id]
            ids.append(out.delivery_id)
            codes.append(out.code)
            errors.append(out.error)
            if out.ok:
                statuses.append("delivered")
                next_at.append(None)
            elif (now - row["created_at"]).total_seconds() >= s.retry_window_s:
                statuses.append("failed")  # retried for the whole window: given up (replayable)
                next_at.append(None)
            else:
                statuses.append("pending")
                delay = backoff_s(row["attempts"], base_s=s.backoff_base_s, max_s=s.backoff_max_s, rng=self._rng)
                next_at.append(now + timedelta(seconds=delay))
        succeeded = sorted({o.endpoint_id for o in outcomes if o.ok})
        failed = sorted({o.endpoint_id for o in outcomes if not o.ok} - set(succeeded))
        async with self._pool.acquire() as conn, conn.transaction():
            await repo.record_outcomes(conn, ids=ids, statuses=statuses, next_attempts=next_at, codes=codes,
                                       errors=errors)
            for endpoint in await repo.mark_endpoints(conn, succeeded=succeeded, failed=failed,
                                                      disable_after_s=s.disable_after_s):
                await self._disable(conn, endpoint)

    async def _disable(self, conn: asyncpg.Connection, endpoint) -> None:
        hours = self.settings.disable_after_s / 3600
        reason = f"every delivery failed for more than {hours:g} h"
        disabled_at = await repo.disable_endpoint(conn, endpoint_id=endpoint["id"], reason=reason)
        host = httpx.URL(endpoint["url"]).host
        await repo.audit(conn, org_id=endpoint["org_id"], endpoint_id=endpoint["id"], action="disabled",
                         actor="webhook-ingest", detail=f"{reason} (host {host})")
        await enqueue(conn, traced(
            OutboundEndpointDisabled(endpoint_id=endpoint["id"], org_id=endpoint["org_id"], host=host, reason=reason,
                                     failing_since=endpoint["failing_since"], disabled_at=disabled_at),
            source=SOURCE, org_id=endpoint["org_id"]))
        log.warning("outbound endpoint disabled", endpoint_id=str(endpoint["id"]), host=host)

    async def _purge(self) -> None:
        if time.monotonic() - self._purged_at < 3600:
            return
        self._purged_at = time.monotonic()
        purged = await repo.purge_finished(self._pool, older_than_s=self.settings.retention_s)
        if purged:
            log.info("purged finished outbound deliveries", count=purged)
