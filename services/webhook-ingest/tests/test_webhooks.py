import asyncio
import json
import time
import uuid

import asyncpg
import httpx

from aria_connector_testkit.vendors.generic_webhook.simulator import sign
from aria_contracts.ids import entity_id
from aria_platform.db import create_pool
from aria_platform.testing import KafkaProbe, bearer, service_token

from aria_webhook_ingest.deliveries import group_commit, service as delivery_service

BURST = 10  # conftest's rate_limit_burst

RISK = {"id": "evt-0", "type": "risk", "title": "Public S3 bucket", "severity": "high", "status": "open",
        "asset_id": "bucket-1"}
TOPICS = ("aria.entity.risk", "aria.entity.alert", "aria.webhook.received")


def body_of(payload) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


async def deliver(client, inst, payload=None, *, delivery_id=None, secret=None, timestamp=None, body=None,
                  headers=None):
    if body is None:
        # Each new delivery differs in its signed content, as a real sender's do: the same timestamp
        # and body twice is a replay (a duplicate) whatever its delivery id.
        body = body_of({**(payload if payload is not None else {"events": [RISK]}), "sent": uuid.uuid4().hex})
    signed = sign(secret or inst.secret, body, timestamp, delivery_id or str(uuid.uuid4()))
    signed.update(headers or {})
    return await client.post(f"/v1/webhooks/{inst.installation_id}", content=body, headers=signed)


def mine(inst):
    return lambda e: e.installation_id == inst.installation_id


def assert_problem(response, status, code):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code, response.json()


async def rows(database, sql, *args):
    conn = await asyncpg.connect(database)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def test_signed_delivery_is_published_once_and_a_replay_is_a_duplicate(client, installations, infra, database):
    inst = await installations.enabled()
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        first = await deliver(client, inst, delivery_id="dlv-1")
        assert first.status_code == 202, first.text
        assert first.json() == {"status": "accepted", "delivery_id": "dlv-1", "events": 1}
        risks = await probe.wait_for(lambda e: mine(inst)(e) and e.type == "risk.observed")
        received = await probe.wait_for(lambda e: mine(inst)(e) and e.type == "webhook.received")

        again = await deliver(client, inst, delivery_id="dlv-1")
        assert again.status_code == 200 and again.json() == {"status": "duplicate", "delivery_id": "dlv-1"}
        await probe.drain(2.0)
    seen = [e for e in probe.seen if e[1].installation_id == inst.installation_id]
    assert sorted(e.type for _, e, _ in seen) == ["risk.observed", "webhook.received"], "published exactly once"

    risk = risks[0]
    expected_id = entity_id(org_id=inst.org_id, integration_key="generic_webhook", entity_type="risk",
                            external_id="evt-0")
    assert risk.org_id == inst.org_id and risk.source == "webhook-ingest"
    assert risk.data["entity_id"] == str(expected_id) and risk.key == str(expected_id)
    assert risk.data["org_id"] == str(inst.org_id) and risk.data["severity"] == "high"
    assert risk.data["provenance"]["webhook_delivery_id"] == "dlv-1"
    assert received[0].data["delivery_id"] == "dlv-1" and received[0].data["event_count"] == 1
    assert received[0].org_id == inst.org_id and received[0].source == "webhook-ingest"
    topics = {topic for topic, e, _ in seen}
    assert topics == {"aria.entity.risk", "aria.webhook.received"}

    logged = await rows(database, "SELECT status, delivery_id, event_count FROM webhook_deliveries "
                                  "WHERE installation_id = $1 ORDER BY id", inst.installation_id)
    assert logged == [{"status": "accepted", "delivery_id": "dlv-1", "event_count": 1},
                      {"status": "duplicate", "delivery_id": "dlv-1", "event_count": 0}]


async def test_concurrent_copies_of_a_delivery_are_accepted_and_published_once(client, installations, infra,
                                                                               database):
    inst = await installations.enabled()
    copies = ["dlv-same"] * 4 + [f"dlv-other-{n}" for n in range(4)]  # within the burst of 10
    bodies = {d: body_of({"events": [{**RISK, "id": f"evt-{d}"}]}) for d in set(copies)}
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        answers = await asyncio.gather(*(deliver(client, inst, delivery_id=d, body=bodies[d]) for d in copies))
        await probe.wait_for(lambda e: mine(inst)(e) and e.type == "webhook.received", count=5)
        await probe.drain(2.0)
    by_id: dict[str, list] = {}
    for delivery_id, answer in zip(copies, answers):
        by_id.setdefault(delivery_id, []).append((answer.status_code, answer.json()["status"]))
    assert sorted(by_id["dlv-same"]) == [(200, "duplicate")] * 3 + [(202, "accepted")]
    assert all(by_id[f"dlv-other-{n}"] == [(202, "accepted")] for n in range(4))
    published = [e for _, e, _ in probe.seen if e.installation_id == inst.installation_id]
    received = sorted(e.data["delivery_id"] for e in published if e.type == "webhook.received")
    assert received == sorted(bodies), "each delivery published exactly once"
    assert len([e for e in published if e.type == "risk.observed"]) == len(bodies)
    logged = await rows(database, "SELECT status, count(*) AS n FROM webhook_deliveries WHERE installation_id = $1 "
                                  "GROUP BY status ORDER BY status", inst.installation_id)
    assert logged == [{"status": "accepted", "n": 5}, {"status": "duplicate", "n": 3}]


async def test_bad_signatures_are_401_recorded_and_publish_nothing(client, installations, infra, database):
    inst = await installations.enabled()
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        forged = await deliver(client, inst, secret="not-the-secret-" + "x" * 32)
        assert_problem(forged, 401, "invalid_signature")
        stale = await deliver(client, inst, timestamp=int(time.time()) - 3600)
        assert_problem(stale, 401, "invalid_signature")
        assert "timestamp" in stale.json()["detail"]
        unsigned = await client.post(f"/v1/webhooks/{inst.installation_id}", content=body_of({"events": [RISK]}),
                                     headers={"content-type": "application/json"})
        assert_problem(unsigned, 401, "invalid_signature")
        tampered_body = body_of({"events": [RISK]})
        headers = sign(inst.secret, tampered_body, None, "dlv-t")
        tampered = await client.post(f"/v1/webhooks/{inst.installation_id}",
                                     content=tampered_body.replace(b"high", b"low "), headers=headers)
        assert_problem(tampered, 401, "invalid_signature")
        await probe.drain(2.0)
    assert not [e for _, e, _ in probe.seen if e.installation_id == inst.installation_id]
    for response in (forged, stale, unsigned, tampered):
        assert inst.secret not in response.text
    logged = await rows(database, "SELECT status, reason FROM webhook_deliveries WHERE installation_id = $1",
                        inst.installation_id)
    assert [r["status"] for r in logged] == ["rejected"] * 4
    assert all(r["reason"].startswith("invalid_signature") for r in logged)


async def test_size_and_content_type_limits(client, installations):
    inst = await installations.enabled()
    big = body_of({"events": [dict(RISK, description="x" * (70 * 1024))]})
    oversized = await deliver(client, inst, body=big)
    assert_problem(oversized, 413, "payload_too_large")

    async def chunks():  # no Content-Length: the limit holds on the bytes actually read
        for _ in range(70):
            yield b"x" * 1024

    streamed = await client.post(f"/v1/webhooks/{inst.installation_id}", content=chunks(),
                                 headers=sign(inst.secret, b"", None, "dlv-s"))
    assert "content-length" not in streamed.request.headers
    assert_problem(streamed, 413, "payload_too_large")

    wrong_type = await deliver(client, inst, headers={"Content-Type": "text/plain"})
    assert_problem(wrong_type, 415, "unsupported_media_type")
    no_type = await client.post(f"/v1/webhooks/{inst.installation_id}", content=b"{}")
    assert_problem(no_type, 415, "unsupported_media_type")
    with_charset = await deliver(client, inst, headers={"Content-Type": "application/json; charset=utf-8"})
    assert with_charset.status_code == 202, with_charset.text


async def test_malformed_payload_is_400_and_the_next_delivery_still_works(client, installations):
    inst = await installations.enabled()
    broken = await deliver(client, inst, body=b'{"events": [ {"id": ')
    assert_problem(broken, 400, "malformed_payload")
    not_a_list = await deliver(client, inst, payload={"events": "nope"})
    assert_problem(not_a_list, 400, "malformed_payload")
    good = await deliver(client, inst)
    assert good.status_code == 202 and good.json()["events"] == 1


async def test_unknown_not_live_and_webhookless_installations_are_404(client, installations, database):
    unknown = await client.post(f"/v1/webhooks/{uuid.uuid4()}", content=b"{}",
                                headers={"content-type": "application/json"})
    assert_problem(unknown, 404, "webhook_endpoint_not_found")
    garbage = await client.post("/v1/webhooks/not-a-uuid", content=b"{}", headers={"content-type": "application/json"})
    assert_problem(garbage, 404, "webhook_endpoint_not_found")

    polling_only = await installations.enabled("crowdstrike_falcon", store_secret=False)
    assert_problem(await deliver(client, polling_only), 404, "webhook_endpoint_not_found")

    inst = await installations.enabled()
    assert (await deliver(client, inst)).status_code == 202
    await installations.disable(inst)
    assert_problem(await deliver(client, inst), 404, "webhook_endpoint_not_found")


async def apply_on_another_replica(database: str, envelope) -> None:
    """The lifecycle subscriber of another webhook-ingest replica writes the change (its own pool)."""
    from aria_webhook_ingest.endpoints import service as endpoint_service

    other_replica = await create_pool(database, max_size=1)
    try:
        assert await endpoint_service.apply_lifecycle_event(pool=other_replica, envelope=envelope) == "applied"
    finally:
        await other_replica.close()


async def test_an_endpoint_disabled_by_another_replica_stops_accepting(client, installations, database):
    """The app caches endpoint rows; a change applied elsewhere reaches it through Postgres NOTIFY."""
    from aria_contracts import Envelope
    from aria_contracts.events import InstallationDisabled

    inst = await installations.enabled()
    assert (await deliver(client, inst)).status_code == 202  # its endpoint row is now cached
    disabled = Envelope.wrap(InstallationDisabled(installation_id=inst.installation_id, org_id=inst.org_id,
                                                  integration_key=inst.integration_key, revision=inst.revision + 1,
                                                  actor="test"),
                             source="installer", org_id=inst.org_id, installation_id=inst.installation_id)
    await apply_on_another_replica(database, disabled)
    deadline = time.monotonic() + 10
    while (answer := await deliver(client, inst)).status_code != 404:
        assert answer.status_code == 202 and time.monotonic() < deadline, "the disable never reached the cache"
        await asyncio.sleep(0.05)
    assert_problem(answer, 404, "webhook_endpoint_not_found")


async def test_changed_mappings_apply_to_the_next_delivery(client, installations, infra, database):
    """Connector instances are reused between deliveries; a change of the installation still reaches the next one."""
    from aria_contracts import Envelope
    from aria_contracts.events import InstallationMappingsChanged

    inst = await installations.enabled()
    low = {**RISK, "id": "evt-low", "severity": "low"}
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        assert (await deliver(client, inst, {"events": [low]})).status_code == 202  # built with the defaults
        await probe.wait_for(lambda e: mine(inst)(e) and e.type == "risk.observed")
    only_critical = {"source_type": "risk", "target_entity": "risk", "external_id": "id",
                     "field_mappings": {"title": "title", "severity": "severity"},
                     "filter_rules": [{"path": "severity", "op": "in", "value": ["critical"]}]}
    changed = Envelope.wrap(InstallationMappingsChanged(installation_id=inst.installation_id, org_id=inst.org_id,
                                                        integration_key=inst.integration_key,
                                                        revision=inst.revision + 1, actor="test",
                                                        mappings=[only_critical]),
                            source="installer", org_id=inst.org_id, installation_id=inst.installation_id)
    await apply_on_another_replica(database, changed)
    deadline = time.monotonic() + 10
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        while (answer := await deliver(client, inst, {"events": [low]})).json()["events"] != 0:
            assert answer.status_code == 202 and time.monotonic() < deadline, "the new mappings never applied"
            await asyncio.sleep(0.05)
        assert answer.status_code == 202
        await probe.wait_for(lambda e: mine(inst)(e) and e.type == "webhook.received"
                             and e.data["delivery_id"] == answer.json()["delivery_id"])
        await probe.drain(1.0)
    assert [e.data["event_count"] for _, e, _ in probe.seen if mine(inst)(e) and e.type == "webhook.received"
            and e.data["delivery_id"] == answer.json()["delivery_id"]] == [0], "the low risk was filtered out"


async def test_a_flood_is_rate_limited_per_installation(client, installations):
    noisy, quiet = await installations.enabled(), await installations.enabled()
    responses = await asyncio.gather(*(deliver(client, noisy) for _ in range(3 * BURST)))
    codes = [r.status_code for r in responses]
    assert BURST <= codes.count(202) < 2 * BURST and codes.count(429) >= BURST, codes
    limited = next(r for r in responses if r.status_code == 429)
    assert_problem(limited, 429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    served = await deliver(client, quiet)
    assert served.status_code == 202, "another installation is still served"


async def test_kafka_failure_rolls_back_and_answers_503(client, installations, database, monkeypatch):
    inst = await installations.enabled()

    async def broken(broker, envelopes):
        raise ConnectionError("kafka down")

    monkeypatch.setattr(group_commit.kafka, "publish_batch", broken)
    # Sent together, so they may share a batch: every one of them fails, none is half-recorded.
    down = await asyncio.gather(*(deliver(client, inst, delivery_id=d) for d in ("dlv-k", "dlv-k", "dlv-l")))
    for answer in down:
        assert_problem(answer, 503, "kafka_unavailable")
        assert answer.headers["retry-after"]
    assert await rows(database, "SELECT id FROM webhook_deliveries WHERE installation_id = $1",
                      inst.installation_id) == []
    monkeypatch.undo()
    retried = await deliver(client, inst, delivery_id="dlv-k")
    assert retried.status_code == 202 and retried.json()["status"] == "accepted"


async def test_a_replaced_signing_secret_is_picked_up(client, installations, monkeypatch):
    inst = await installations.enabled()
    assert (await deliver(client, inst)).status_code == 202  # lease now cached
    old = inst.secret
    await installations.store_secret(inst, f"whsec-new-{uuid.uuid4().hex}{uuid.uuid4().hex}")
    monkeypatch.setattr(delivery_service, "RELEASE_AFTER_S", 0.0)
    assert (await deliver(client, inst)).status_code == 202, "a failed check renews an old lease once"
    assert_problem(await deliver(client, inst, secret=old), 401, "invalid_signature")


async def test_delivery_log_is_newest_first_with_cursor_pagination(client, installations, infra):
    inst = await installations.enabled()
    for n in range(3):
        assert (await deliver(client, inst, delivery_id=f"log-{n}")).status_code == 202
    assert (await deliver(client, inst, secret="wrong-" + "y" * 40, delivery_id="log-forged")).status_code == 401
    url = f"/internal/v1/installations/{inst.installation_id}/deliveries"
    installer = bearer(service_token(infra, "installer"))
    first = await client.get(url, params={"limit": 2}, headers=installer)
    assert first.status_code == 200, first.text
    page1 = first.json()
    assert [d["delivery_id"] for d in page1["items"]] == ["log-forged", "log-2"]
    assert page1["items"][0]["status"] == "rejected" and page1["items"][0]["reason"].startswith("invalid_signature")
    page2 = (await client.get(url, params={"limit": 2, "cursor": page1["next_cursor"]}, headers=installer)).json()
    assert [d["delivery_id"] for d in page2["items"]] == ["log-1", "log-0"] and page2["next_cursor"] is None
    assert all(d["status"] == "accepted" and d["event_count"] == 1 for d in page2["items"])
    other_org = await client.get(url, params={"org_id": str(uuid.uuid4())}, headers=installer)
    assert other_org.json()["items"] == []

    assert_problem(await client.get(url, params={"cursor": "bogus"}, headers=installer), 400, "invalid_cursor")
    assert_problem(await client.get(url), 401, "missing_token")
    assert_problem(await client.get(url, headers=bearer(service_token(infra, "catalog"))), 403,
                   "service_not_allowed")


async def test_lifecycle_events_apply_only_when_newer(database, client):
    from aria_contracts import Envelope
    from aria_contracts.events import InstallationConfigured, InstallationDisabled, InstallationEnabled
    from aria_webhook_ingest.endpoints import service as endpoint_service

    pool = await create_pool(database, min_size=1, max_size=2)  # with the service's jsonb codec
    inst, org = uuid.uuid4(), uuid.uuid4()
    common = dict(installation_id=inst, org_id=org, integration_key="generic_webhook", actor="test")

    def enabled(revision, ref="ref-1"):
        return Envelope.wrap(InstallationEnabled(**common, revision=revision, config_version=1, settings={},
                                                 credential_ref=ref, sync_frequency="realtime"),
                             source="installer", org_id=org, installation_id=inst)

    disabled = Envelope.wrap(InstallationDisabled(**common, revision=3), source="installer", org_id=org,
                             installation_id=inst)
    configured = Envelope.wrap(InstallationConfigured(**common, revision=5, config_version=2, config_hash="h",
                                                      settings={"source_name": "x"}, credential_ref="ref-2"),
                               source="installer", org_id=org, installation_id=inst)

    async def state():
        row = await pool.fetchrow("SELECT live, revision, credential_ref FROM webhook_endpoints "
                                  "WHERE installation_id = $1", inst)
        return dict(row)

    try:
        apply = endpoint_service.apply_lifecycle_event
        assert await apply(pool=pool, envelope=disabled) == "applied"    # arrives before the older enable
        assert await apply(pool=pool, envelope=enabled(2)) == "stale"
        assert await state() == {"live": False, "revision": 3, "credential_ref": None}
        assert await apply(pool=pool, envelope=disabled) == "stale"      # redelivery changes nothing
        assert await apply(pool=pool, envelope=enabled(4)) == "applied"
        assert await state() == {"live": True, "revision": 4, "credential_ref": "ref-1"}
        assert await apply(pool=pool, envelope=configured) == "applied"  # new config, liveness kept
        assert await state() == {"live": True, "revision": 5, "credential_ref": "ref-2"}
        malformed = Envelope(type="installation.disabled", source="installer", org_id=org, installation_id=inst,
                             dedup_key="x", key=str(inst), data={"installation_id": str(inst), "revision": 9})
        assert await apply(pool=pool, envelope=malformed) == "invalid"  # skipped, not retried forever
        assert await state() == {"live": True, "revision": 5, "credential_ref": "ref-2"}
    finally:
        await pool.close()


async def test_no_secret_reaches_postgres(database, installations, client):
    inst = await installations.enabled()
    assert (await deliver(client, inst)).status_code == 202
    assert (await deliver(client, inst, secret="z" * 40)).status_code == 401
    dump = ""
    for table in ("webhook_endpoints", "webhook_deliveries"):
        dump += "".join(str(r) for r in await rows(database, f"SELECT * FROM {table}"))
    assert str(inst.installation_id) in dump
    assert inst.secret not in dump and "whsec-" not in dump



async def test_the_installations_own_signing_secret_wins_over_the_connector_secret(client, installations, infra,
                                                                                   database):
    from aria_contracts import Envelope
    from aria_contracts.events import InstallationConfigured

    inst = await installations.enabled()  # verifies with the connector credential's signing_secret
    assert (await deliver(client, inst)).status_code == 202
    own_secret = f"own-{uuid.uuid4().hex}{uuid.uuid4().hex}"
    async with httpx.AsyncClient(base_url=installations.vault_gateway) as vg:
        stored = await vg.put(f"/internal/v1/installations/{inst.installation_id}/credentials/webhook_signing",
                              json={"org_id": str(inst.org_id), "kind": "webhook_signing",
                                    "secrets": {"signing_secret": own_secret}},
                              headers=bearer(service_token(infra, "installer")))
    inst.revision += 1
    await installations.publish(Envelope.wrap(
        InstallationConfigured(installation_id=inst.installation_id, org_id=inst.org_id,
                               integration_key=inst.integration_key, revision=inst.revision, actor="test",
                               config_version=2, config_hash="h", settings={}, credential_ref=inst.credential_ref,
                               webhook_credential_ref=stored.json()["credential_ref"]),
        source="installer", org_id=inst.org_id, installation_id=inst.installation_id))
    deadline = time.monotonic() + 30
    while (await rows(database, "SELECT revision FROM webhook_endpoints WHERE installation_id = $1",
                      inst.installation_id))[0]["revision"] < inst.revision:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    # The connector's secret was leased moments ago; the new endpoint revision leases again at once.
    assert_problem(await deliver(client, inst), 401, "invalid_signature")
    assert (await deliver(client, inst, secret=own_secret)).status_code == 202


async def test_a_captured_delivery_replayed_under_another_or_no_id_is_a_duplicate(client, installations, infra,
                                                                                  database):
    """Issue 17 item 2: the signature covers timestamp and body, not the delivery id, so dedup is on
    what it covers; the replay window is the manifest's tolerance (300 s for generic_webhook)."""
    inst = await installations.enabled()
    body = body_of({"events": [{**RISK, "id": "evt-replayed"}]})
    url = f"/v1/webhooks/{inst.installation_id}"
    signed_at = int(time.time()) - 290  # inside the 300 s tolerance, close to its end
    captured = sign(inst.secret, body, signed_at, "dlv-original")
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        first = await client.post(url, content=body, headers=captured)
        assert first.status_code == 202, first.text
        await probe.wait_for(lambda e: mine(inst)(e) and e.type == "webhook.received")
        new_id = await client.post(url, content=body, headers={**captured, "X-Aria-Delivery-Id": "dlv-forged"})
        assert new_id.status_code == 200 and new_id.json()["status"] == "duplicate", new_id.text
        no_id = await client.post(url, content=body,
                                  headers={k: v for k, v in captured.items() if k != "X-Aria-Delivery-Id"})
        assert no_id.status_code == 200 and no_id.json()["status"] == "duplicate", no_id.text
        await probe.drain(2.0)
    published = [e for _, e, _ in probe.seen if e.installation_id == inst.installation_id]
    assert sorted(e.type for e in published) == ["risk.observed", "webhook.received"], "published exactly once"

    # Past the tolerance the timestamp is refused, so nothing older can be replayed at all.
    stale = sign(inst.secret, body, int(time.time()) - 302, "dlv-stale")
    assert_problem(await client.post(url, content=body, headers=stale), 401, "invalid_signature")
    # A new delivery of the same content (a new timestamp, hence a new signature) is accepted.
    fresh = await client.post(url, content=body, headers=sign(inst.secret, body, int(time.time()), "dlv-next"))
    assert fresh.status_code == 202, fresh.text


async def test_deeply_nested_or_event_heavy_deliveries_are_4xx_and_publish_nothing(client, installations, infra,
                                                                                    database):
    """Issue 17 item 6: nesting past what the parser and encoders take, or more events than the
    per-delivery bound, is a clear 4xx problem, never a 500."""
    from aria_webhook_ingest.settings import WebhookIngestSettings

    inst = await installations.enabled()
    bound = WebhookIngestSettings.model_fields["max_events_per_delivery"].default
    async with KafkaProbe(infra.kafka_bootstrap, *TOPICS) as probe:
        for depth in (40, 30_000):  # past MAX_DEPTH (32); past the interpreter's recursion limit
            nested = b'{"events":[{"id":"deep","type":"risk","title":"t","severity":"high","x":' + \
                b"[" * depth + b"]" * depth + b"}]}"
            assert_problem(await deliver(client, inst, body=nested), 400, "malformed_payload")
        tiny = {"type": "risk", "title": "t", "severity": "high"}  # within the tests' 64 KiB bodies
        refused = await deliver(client, inst, {"events": [{**tiny, "id": str(n)} for n in range(bound + 1)]})
        assert_problem(refused, 422, "too_many_events")
        assert str(bound) in refused.json()["detail"]
        accepted = await deliver(client, inst, {"events": [{**tiny, "id": str(n)} for n in range(bound)]})
        assert accepted.status_code == 202, accepted.text
        await probe.wait_for(lambda e: mine(inst)(e) and e.type == "webhook.received")
        await probe.drain(1.0)
    received = [e for _, e, _ in probe.seen if mine(inst)(e) and e.type == "webhook.received"]
    assert [e.data["event_count"] for e in received] == [bound], "only the delivery within the bound published"
