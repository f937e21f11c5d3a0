"""Issue 6 fault: a webhook flood from one installation while another keeps being served.

Installation A sends hundreds of distinct, correctly signed deliveries at once; installation B,
of another organization, sends a steady trickle during the flood. A is throttled with 429 +
Retry-After by its own token bucket, B never is. Every 202 is on Kafka exactly once (its
webhook.received event and the risk it carried), nothing refused is, and a re-sent accepted
delivery is a duplicate that publishes nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter

import httpx

from aria_connector_testkit.vendors.generic_webhook.simulator import sign
from aria_platform.testing import KafkaProbe, bearer, user_token
from aria_webhook_ingest.settings import WebhookIngestSettings
from tests.support import wait_until, webhook_installation

FLOOD = 400
TRICKLE = 20
# The platform's webhook-ingest runs with the default per-installation limits.
RATE = WebhookIngestSettings.model_fields["rate_limit_per_s"].default
BURST = WebhookIngestSettings.model_fields["rate_limit_burst"].default


def _delivery(secret: str, n: int) -> tuple[str, bytes, dict[str, str]]:
    delivery_id = f"flood-{uuid.uuid4().hex}"
    body = json.dumps({"events": [{"id": f"{delivery_id}-risk", "type": "risk", "title": f"finding {n}",
                                   "severity": "medium"}]}).encode()
    return delivery_id, body, sign(secret, body, delivery_id=delivery_id)


async def test_flood_from_one_installation_is_throttled_while_another_is_served(platform, infra):
    secrets = {"a": f"flood-a-{uuid.uuid4().hex}", "b": f"flood-b-{uuid.uuid4().hex}"}
    # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout closes them under us.
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=1.0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as api:
        inst = {k: await webhook_installation(api, platform.urls["installer"], bearer(user_token(
            infra, org_id=uuid.uuid4(), role="admin")), s) for k, s in secrets.items()}
        url = {k: f"{platform.urls['webhook-ingest']}/v1/webhooks/{i}" for k, i in inst.items()}

        async def live(key: str):
            delivery_id, body, headers = _delivery(secrets[key], -1)
            response = await api.post(url[key], content=body, headers=headers)
            return response.status_code == 202 and delivery_id
        # webhook-ingest learns the installations from the lifecycle topic; the first 202 of each
        # is also the first accepted delivery of the test.
        warmup = {k: await wait_until(lambda k=k: live(k)) for k in inst}
        assert all(warmup.values())
        await asyncio.sleep(3)  # A's bucket refills to its full burst

        sent: dict[str, list[tuple[str, httpx.Response]]] = {"a": [], "b": []}

        async def post(key: str, n: int) -> None:
            delivery_id, body, headers = _delivery(secrets[key], n)
            sent[key].append((delivery_id, await api.post(url[key], content=body, headers=headers)))

        async def trickle() -> None:
            for n in range(TRICKLE):
                await post("b", n)
                await asyncio.sleep(0.05)

        async with KafkaProbe(infra.kafka_bootstrap, "aria.webhook.received", "aria.entity.risk") as probe:
            started = time.monotonic()
            await asyncio.gather(trickle(), *(post("a", n) for n in range(FLOOD)))
            elapsed = time.monotonic() - started
            accepted = {k: [d for d, r in v if r.status_code == 202] for k, v in sent.items()}
            # Re-sending accepted deliveries (same ids) once A's bucket has room is deduplicated.
            await asyncio.sleep(2)
            resent = []
            for delivery_id in accepted["a"][:5]:
                body = json.dumps({"events": [{"id": f"{delivery_id}-risk", "type": "risk", "title": "again",
                                               "severity": "medium"}]}).encode()
                resent.append(await api.post(url["a"], content=body,
                                             headers=sign(secrets["a"], body, delivery_id=delivery_id)))
            total = sum(len(v) for v in accepted.values())
            await probe.wait_for(lambda e: e.type == "webhook.received" and str(e.installation_id) in inst.values(),
                                 count=total, timeout=60)
            await probe.drain(2.0)

    statuses = {k: Counter(r.status_code for _, r in v) for k, v in sent.items()}
    assert statuses["b"] == {202: TRICKLE}, statuses
    assert set(statuses["a"]) == {202, 429}, statuses
    # A gets its burst and its sustained rate over the flood's duration, and not more.
    assert BURST - 5 <= statuses["a"][202] <= BURST + RATE * elapsed + 1, (statuses, elapsed)
    throttled = [r for _, r in sent["a"] if r.status_code == 429]
    assert all(int(r.headers["retry-after"]) >= 1 and r.json()["code"] == "rate_limited" for r in throttled)
    assert [(r.status_code, r.json()["status"]) for r in resent] == [(200, "duplicate")] * len(resent)

    for key, installation_id in inst.items():
        events = [e for _, e, _ in probe.seen if str(e.installation_id) == installation_id]
        received = [e.data["delivery_id"] for e in events if e.type == "webhook.received"]
        risks = [e.data["provenance"]["external_id"] for e in events if e.type == "risk.observed"]
        # Exactly the accepted deliveries: none lost, none duplicated, none of the refused ones.
        assert sorted(received) == sorted(accepted[key]), key
        assert sorted(risks) == sorted(f"{d}-risk" for d in accepted[key]), key
