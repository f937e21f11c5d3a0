"""Outbound webhooks against the real stack: Kafka events in, signed HTTP deliveries out to a real
local receiver (allowlisted 127.0.0.1, the guard's test-only setting), Postgres schedule, secrets
in vault-gateway over HTTP."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from aria_contracts import Envelope
from aria_contracts.events import Provenance, Risk
from aria_contracts.ids import entity_id
from aria_contracts.topics import OUTBOUND_ENDPOINTS
from aria_platform.app import create_app
from aria_platform.testing import KafkaProbe, bearer, free_port, running_app, user_token
from aria_webhook_ingest.deps import WebhookIngestDeps
from aria_webhook_ingest.main import define

DISABLE_AFTER_S = 4.0


class Receiver:
    """A webhook receiver: verifies every delivery with the Standard Webhooks library and accepts each
    webhook-id once (as a receiver should); paths can be told to answer 5xx."""

    def __init__(self):
        self.secrets: dict[str, list[str]] = {}  # path -> secrets it verifies with
        self.fail_next: dict[str, int] = {}  # path -> how many requests still get 503
        self.always_fail: set[str] = set()
        self.requests: list[tuple[str, dict, bytes]] = []
        self.accepted: dict[str, list[str]] = {}  # path -> accepted webhook-ids, in order
        self.app = FastAPI()

        @self.app.post("/hooks/{name}")
        async def hook(name: str, request: Request) -> Response:
            path, body = f"/hooks/{name}", await request.body()
            headers = dict(request.headers)
            self.requests.append((path, headers, body))
            if path in self.always_fail:
                return Response(status_code=500)
            if self.fail_next.get(path, 0) > 0:
                self.fail_next[path] -= 1
                return Response(status_code=503)
            verified = False
            for secret in self.secrets.get(path, []):
                try:
                    Webhook(secret).verify(body, headers)
                    verified = True
                except WebhookVerificationError:
                    pass
            if not verified:
                return Response(status_code=401)
            ids = self.accepted.setdefault(path, [])
            if headers["webhook-id"] not in ids:
                ids.append(headers["webhook-id"])
            return Response(status_code=204)

    def bodies(self, path: str) -> list[bytes]:
        return [b for p, _, b in self.requests if p == path]


RECEIVER_HOST = "127.0.0.2"  # a loopback address of its own: the app allowlists it, 127.0.0.1 stays refused


@pytest.fixture(scope="module")
async def receiver():
    r = Receiver()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(r.app, host=RECEIVER_HOST, port=port, log_config=None,
                                           access_log=False, lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    r.url = f"http://{RECEIVER_HOST}:{port}"
    try:
        yield r
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="module")
async def outbound(make_settings, receiver):
    settings = make_settings(outbound_webhook_allow_hosts=[RECEIVER_HOST],
                            outbound_backoff_base_s=0.2, outbound_backoff_max_s=1.0, outbound_poll_interval_s=0.1,
                            outbound_disable_after_s=DISABLE_AFTER_S, outbound_subscriptions_cache_s=0.0,
                            outbox_poll_interval_s=0.2,
                            outbound_group_id=f"webhook-ingest.outbound.test-{uuid.uuid4().hex[:8]}")
    app = create_app(define(settings))
    async with running_app(app) as client:
        client.deps = app.state.runtime.deps_of(WebhookIngestDeps)
        yield client


def risk(org_id: uuid.UUID, n: int) -> Envelope:
    external = f"R-{uuid.uuid4().hex[:8]}-{n}"
    inst = uuid.uuid4()
    return Envelope.wrap(Risk(
        entity_id=entity_id(org_id=org_id, integration_key="crowdstrike", entity_type="risk", external_id=external),
        org_id=org_id, title=f"risk {n}", severity="high", status="open",
        provenance=Provenance(installation_id=inst, integration_key="crowdstrike", connector_version="1.0.0",
                              stream="risks", external_id=external, raw_sha256=hashlib.sha256(external.encode()).hexdigest())),
        source="sync-runner", org_id=org_id, installation_id=inst)


async def create(client, infra, org_id, url, events=("risk.observed",)) -> dict:
    answer = await client.post("/v1/outbound-endpoints", json={"url": url, "event_types": list(events)},
                               headers=bearer(user_token(infra, org_id=org_id, role="admin")))
    assert answer.status_code == 201, answer.text
    return answer.json()


async def until(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate() if asyncio.iscoroutinefunction(predicate) else predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def warm_up(send, receiver, org_id, path) -> None:
    """The fan-out group starts at the latest offset: publish until one event of ours comes through."""
    async def through():
        await send(risk(org_id, -1))
        await asyncio.sleep(0.5)
        return bool(receiver.bodies(path))
    await until(through, timeout=60, what="the fan-out consumer to join")


async def test_signed_deliveries_survive_a_5xx_burst_without_loss_or_duplication(infra, outbound, receiver, send):
    org = uuid.uuid4()
    endpoint = await create(outbound, infra, org, f"{receiver.url}/hooks/burst")
    assert endpoint["secret"].startswith("whsec_")
    path = "/hooks/burst"
    receiver.secrets[path] = [endpoint["secret"]]
    await warm_up(send, receiver, org, path)
    await until(lambda: receiver.accepted.get(path), what="warm-up accepted")

    receiver.fail_next[path] = 15  # a burst of 503s
    events = [risk(org, n) for n in range(25)]
    for e in events:
        await send(e)
    wanted = {str(e.event_id) for e in events}

    def all_in():
        got = {orjson_loads(b)["event_id"] for p, h, b in receiver.requests if p == path}
        return wanted <= got and len(receiver.accepted[path]) >= len(wanted) + 1
    await until(all_in, timeout=90, what="every event accepted")
    await asyncio.sleep(1.0)  # nothing more should come

    accepted = receiver.accepted[path]
    assert len(accepted) == len(set(accepted))  # each webhook-id accepted once
    delivered_ids = {orjson_loads(b)["event_id"] for p, h, b in receiver.requests
                     if p == path and h["webhook-id"] in accepted}
    assert wanted <= delivered_ids
    # After the burst, no accepted message was sent again (each webhook-id reached 2xx once).
    ok_requests = [h["webhook-id"] for p, h, b in receiver.requests if p == path and receiver.fail_next[path] == 0]
    assert set(ok_requests) >= set(accepted[1:])
    # Every attempt is signed: the library verifies each with the endpoint's secret.
    for p, headers, body in receiver.requests:
        if p == path:
            Webhook(endpoint["secret"]).verify(body, headers)
            assert headers["webhook-signature"].startswith("v1,")
    log = await outbound.get(f"/v1/outbound-endpoints/{endpoint['id']}/deliveries?limit=100",
                             headers=bearer(user_token(infra, org_id=org, role="viewer")))
    assert log.status_code == 200
    items = log.json()["items"]
    assert {i["status"] for i in items} == {"delivered"}
    assert any(i["attempts"] > 1 for i in items)  # some were retried through the burst


def orjson_loads(body: bytes) -> dict:
    import orjson
    return orjson.loads(body)


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://localhost/hook", "https://169.254.169.254/latest/meta-data",
    "https://10.0.0.7/hook", "https://[::1]/hook", "https://[fd00:ec2::254]/", "https://192.168.0.1/",
])
async def test_loopback_private_and_metadata_urls_are_refused(infra, outbound, url):
    answer = await outbound.post("/v1/outbound-endpoints", json={"url": url, "event_types": ["risk.observed"]},
                                 headers=bearer(user_token(infra, org_id=uuid.uuid4(), role="admin")))
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "outbound_url_forbidden"


@pytest.mark.parametrize("url,code", [
    ("http://example.com/hook", "outbound_url_invalid"), ("https://user:pw@example.com/", "outbound_url_invalid"),
    ("ftp://example.com/", "outbound_url_invalid"),
])
async def test_only_plain_https_urls(infra, outbound, url, code):
    answer = await outbound.post("/v1/outbound-endpoints", json={"url": url, "event_types": ["risk.observed"]},
                                 headers=bearer(user_token(infra, org_id=uuid.uuid4(), role="admin")))
    assert answer.status_code == 422 and answer.json()["code"] == code, answer.text


async def test_dns_that_changes_to_loopback_or_metadata_is_refused_at_send_time(infra, outbound, receiver, send):
    guard = outbound.deps.guard
    original = guard.resolver
    answers = {"hooks.example.test": ["93.184.215.14"]}

    async def resolve(host, port):
        if host in answers:
            return answers[host]
        return await original(host, port)

    guard.resolver = resolve
    try:
        org = uuid.uuid4()
        endpoint = await create(outbound, infra, org, "https://hooks.example.test/hook")
        answers["hooks.example.test"] = ["169.254.169.254"]  # rebinding after the check on create
        headers = bearer(user_token(infra, org_id=org, role="viewer"))

        async def refused():
            await send(risk(org, 0))
            await asyncio.sleep(0.5)
            page = (await outbound.get(f"/v1/outbound-endpoints/{endpoint['id']}/deliveries", headers=headers)).json()
            return [i for i in page["items"] if i["last_error"]]
        items = await until(refused, timeout=60, what="a refused attempt")
        assert "cloud metadata address" in items[0]["last_error"]
        assert items[0]["status"] == "pending" and items[0]["last_status_code"] is None
    finally:
        guard.resolver = original


async def test_roles_organizations_and_pages(infra, outbound, receiver):
    org = uuid.uuid4()
    viewer = bearer(user_token(infra, org_id=org, role="viewer"))
    refused = await outbound.post("/v1/outbound-endpoints", headers=viewer,
                                  json={"url": f"{receiver.url}/hooks/x", "event_types": ["risk.observed"]})
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_role"
    ids = [(await create(outbound, infra, org, f"{receiver.url}/hooks/p{n}"))["id"] for n in range(3)]
    first = (await outbound.get("/v1/outbound-endpoints?limit=2", headers=viewer)).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = (await outbound.get(f"/v1/outbound-endpoints?limit=2&cursor={first['next_cursor']}",
                                 headers=viewer)).json()
    assert {i["id"] for i in first["items"] + second["items"]} == set(ids) and second["next_cursor"] is None
    assert all("secret" not in i for i in first["items"])
    other = bearer(user_token(infra, org_id=uuid.uuid4(), role="admin"))
    assert (await outbound.get(f"/v1/outbound-endpoints/{ids[0]}", headers=other)).status_code == 404
    assert (await outbound.delete(f"/v1/outbound-endpoints/{ids[0]}", headers=other)).status_code == 404
    bad = await outbound.get("/v1/outbound-endpoints?cursor=nonsense", headers=viewer)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
    admin = bearer(user_token(infra, org_id=org, role="admin"))
    assert (await outbound.delete(f"/v1/outbound-endpoints/{ids[0]}", headers=admin)).status_code == 204
    assert (await outbound.get(f"/v1/outbound-endpoints/{ids[0]}", headers=viewer)).status_code == 404


async def test_rotation_signs_with_both_secrets_during_the_overlap_and_replay(infra, outbound, receiver, send):
    org = uuid.uuid4()
    path = "/hooks/rotate"
    endpoint = await create(outbound, infra, org, f"{receiver.url}{path}")
    old = endpoint["secret"]
    receiver.secrets[path] = [old]
    await warm_up(send, receiver, org, path)
    admin = bearer(user_token(infra, org_id=org, role="admin"))
    rotated = await outbound.post(f"/v1/outbound-endpoints/{endpoint['id']}/rotate-secret", headers=admin,
                                  json={"overlap_s": 3600})
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_until"]
    seen = len(receiver.bodies(path))
    await send(risk(org, 1))
    await until(lambda: len(receiver.bodies(path)) > seen, what="a delivery after rotation")
    _, headers, body = [r for r in receiver.requests if r[0] == path][-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(body, headers)  # receivers still on the old secret keep working
    Webhook(new).verify(body, headers)

    # Replay of one delivery: the same webhook-id again.
    viewer = bearer(user_token(infra, org_id=org, role="viewer"))
    items = (await outbound.get(f"/v1/outbound-endpoints/{endpoint['id']}/deliveries", headers=viewer)).json()["items"]
    target = items[0]
    operator = bearer(user_token(infra, org_id=org, role="operator"))
    seen = len(receiver.bodies(path))
    replay = await outbound.post(f"/v1/outbound-endpoints/{endpoint['id']}/deliveries/{target['id']}/replay",
                                 headers=operator)
    assert replay.status_code == 202 and replay.json()["replay_of"] == target["id"]
    await until(lambda: len(receiver.bodies(path)) > seen, what="the replayed delivery")
    assert [r for r in receiver.requests if r[0] == path][-1][1]["webhook-id"] == target["message_id"]
    now = datetime.now(timezone.utc)
    ranged = await outbound.post(f"/v1/outbound-endpoints/{endpoint['id']}/replay", headers=operator,
                                 json={"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()})
    assert ranged.status_code == 202 and ranged.json()["queued"] >= 2
    # Overlap over: only the new secret signs.
    rotated = await outbound.post(f"/v1/outbound-endpoints/{endpoint['id']}/rotate-secret", headers=admin,
                                  json={"overlap_s": 0})
    newest = rotated.json()["secret"]
    seen = len(receiver.bodies(path))
    await send(risk(org, 2))
    await until(lambda: len(receiver.bodies(path)) > seen, what="a delivery after the second rotation")
    _, headers, body = [r for r in receiver.requests if r[0] == path][-1]
    Webhook(newest).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body, headers)
    audit = (await outbound.get(f"/v1/outbound-endpoints/{endpoint['id']}/audit", headers=viewer)).json()
    assert [a["action"] for a in audit].count("secret_rotated") == 2


async def test_sustained_failure_disables_the_endpoint_with_a_notice(infra, outbound, receiver, send):
    org = uuid.uuid4()
    path = "/hooks/down"
    receiver.always_fail.add(path)
    endpoint = await create(outbound, infra, org, f"{receiver.url}{path}")
    viewer = bearer(user_token(infra, org_id=org, role="viewer"))
    async with KafkaProbe(infra.kafka_bootstrap, OUTBOUND_ENDPOINTS.name) as probe:
        async def disabled():
            if not receiver.bodies(path):
                await send(risk(org, 0))
                await asyncio.sleep(0.3)
            row = (await outbound.get(f"/v1/outbound-endpoints/{endpoint['id']}", headers=viewer)).json()
            return not row["enabled"] and row
        row = await until(disabled, timeout=60, what="the endpoint to be disabled")
        assert "failed" in row["disabled_reason"]
        notices = await probe.wait_for(lambda e: e.type == "outbound_endpoint.disabled"
                                       and e.data["endpoint_id"] == endpoint["id"])
        assert notices and notices[0].data["host"] == RECEIVER_HOST
    audit = (await outbound.get(f"/v1/outbound-endpoints/{endpoint['id']}/audit", headers=viewer)).json()
    assert audit[0]["action"] == "disabled" and audit[0]["actor"] == "webhook-ingest"
    # Turned back on by an admin, its pending deliveries go out again.
    receiver.always_fail.discard(path)
    receiver.secrets[path] = [endpoint["secret"]]
    again = await outbound.patch(f"/v1/outbound-endpoints/{endpoint['id']}", json={"enabled": True},
                                 headers=bearer(user_token(infra, org_id=org, role="admin")))
    assert again.status_code == 200 and again.json()["enabled"] and again.json()["failing_since"] is None
    await until(lambda: receiver.accepted.get(path), what="deliveries after re-enabling")
