import uuid

import pytest
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from aria_contracts import Envelope
from aria_contracts.events import InstallationInstalled
from aria_platform.app import ServiceDefinition, create_app
from aria_platform.auth import Principal, require_role, require_service
from aria_platform.db import create_pool, migrate
from aria_platform.outbox import claim, enqueue, traced
from aria_platform.pagination import decode_cursor, encode_cursor
from aria_platform.problems import Problem
from aria_platform.settings import ServiceSettings, load_settings
from aria_platform.testing import (KafkaProbe, bearer, create_database, running_app, service_token, user_token)

router = APIRouter()


class Body(BaseModel):
    name: str


@router.post("/things")
async def make_thing(body: Body, who: Principal = Depends(require_role("operator"))) -> dict:
    if body.name == "taken":
        raise Problem(409, "thing_exists", "Conflict", "a thing with this name exists")
    return {"org": str(who.org_id)}


@router.get("/internal")
async def internal(who: Principal = Depends(require_service("installer"))) -> dict:
    return {"service": who.service}


@router.get("/traced")
async def traced_event() -> dict:
    """What an event published while handling this request would carry."""
    return {"traceparent": traced(InstallationInstalled(installation_id=uuid.uuid4(), org_id=uuid.uuid4(),
                                                       integration_key="k", revision=1, actor="u"),
                                  source="t", org_id=uuid.uuid4()).traceparent}


hot = APIRouter(prefix="/hot")


@hot.post("/things/{thing_id}", name="hot_thing", status_code=202)
async def hot_thing(request: Request) -> JSONResponse:
    """A direct route (aria_platform.direct): what the platform's layers give it, and its errors."""
    thing_id = request.path_params["thing_id"]
    if thing_id == "taken":
        raise Problem(409, "thing_exists", "Conflict", "a thing with this name exists", headers={"Retry-After": "3"})
    if thing_id == "boom":
        raise RuntimeError("internal detail that must not leak")
    return JSONResponse({"thing": thing_id, "body": (await request.body()).decode(),
                         "traceparent": traced(InstallationInstalled(
                             installation_id=uuid.uuid4(), org_id=uuid.uuid4(), integration_key="k", revision=1,
                             actor="u"), source="t", org_id=uuid.uuid4()).traceparent}, status_code=202)


@pytest.fixture(scope="module")
async def database(infra, kafka_topics, tmp_path_factory):
    url = await create_database(infra, "platform")
    await migrate(url, tmp_path_factory.mktemp("no-service-migrations"))
    return url


@pytest.fixture(scope="module")
def app(infra, database):
    settings = ServiceSettings(service_name="platform-test", database_url=database, jwt_secret=infra.jwt_secret,
                               kafka_bootstrap=infra.kafka_bootstrap, outbox_poll_interval_s=0.2)
    return create_app(ServiceDefinition(name="platform-test", title="t", description="d", settings=settings,
                                        routers=[router, hot], direct_routes=["hot_thing"]))


@pytest.fixture(scope="module")
async def client(app):
    async with running_app(app) as c:
        yield c


async def test_probes_metrics_and_asyncapi(client):
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"postgres": "ok", "kafka": "ok"}
    await client.get("/healthz")
    assert "aria_http_requests_total" in (await client.get("/metrics")).text
    assert (await client.get("/asyncapi.json")).json()["asyncapi"]


async def test_events_of_a_request_carry_the_callers_trace_or_a_new_one(client):
    caller_trace = uuid.uuid4().hex
    traceparent = f"00-{caller_trace}-{uuid.uuid4().hex[:16]}-01"
    inside = (await client.get("/traced", headers={"traceparent": traceparent})).json()["traceparent"]
    assert inside.split("-")[1] == caller_trace and inside != traceparent  # the request's span, in the caller's trace
    fresh = [(await client.get("/traced")).json()["traceparent"] for _ in range(2)]
    assert all(fresh) and fresh[0].split("-")[1] != fresh[1].split("-")[1] != caller_trace


async def test_errors_are_problem_json_with_stable_codes(client, infra):
    org = uuid.uuid4()
    op = bearer(user_token(infra, org_id=org, role="operator"))
    cases = [
        (await client.post("/things", json={"name": "x"}), 401, "missing_token"),
        (await client.post("/things", json={"name": "x"}, headers=bearer(user_token(infra, org_id=org, role="viewer"))),
         403, "insufficient_role"),
        (await client.post("/things", json={"nom": 1}, headers=op), 422, "validation_error"),
        (await client.post("/things", json={"name": "taken"}, headers=op), 409, "thing_exists"),
        (await client.get("/nowhere"), 404, "not_found"),
        (await client.get("/internal", headers=op), 403, "service_not_allowed"),
    ]
    for response, status, code in cases:
        assert response.status_code == status and response.json()["code"] == code, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.post("/things", json={"name": "x"}, headers=op)).json() == {"org": str(org)}
    assert (await client.get("/internal", headers=bearer(service_token(infra, "installer")))).json() == {
        "service": "installer"}


async def test_a_direct_route_answers_as_through_fastapi(app, client):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    def scope(method, path):
        return {"type": "http", "method": method, "path": path, "headers": [], "query_string": b"",
                "root_path": "", "scheme": "http", "server": ("t", 80), "client": ("c", 1)}
    # Served by the platform itself, ahead of FastAPI; anything else is left to FastAPI.
    assert await app.direct.serve(scope("POST", "/hot/things/t0"), receive, send)
    assert sent[0]["status"] == 202
    assert not await app.direct.serve(scope("GET", "/hot/things/t0"), receive, send)
    assert not await app.direct.serve(scope("POST", "/things"), receive, send)
    assert len(sent) == 2  # the start and body of the one direct answer

    caller_trace = uuid.uuid4().hex
    served = await client.post("/hot/things/t1", content=b"payload",
                               headers={"traceparent": f"00-{caller_trace}-{uuid.uuid4().hex[:16]}-01"})
    assert served.status_code == 202
    assert served.json()["thing"] == "t1" and served.json()["body"] == "payload"
    assert served.json()["traceparent"].split("-")[1] == caller_trace

    conflict = await client.post("/hot/things/taken")
    assert conflict.status_code == 409 and conflict.headers["retry-after"] == "3"
    assert conflict.headers["content-type"] == "application/problem+json"
    assert conflict.json()["code"] == "thing_exists" and conflict.json()["instance"] == "/hot/things/taken"
    failed = await client.post("/hot/things/boom")
    assert failed.status_code == 500 and failed.json()["code"] == "internal_error"
    assert "must not leak" not in failed.text
    # Another method on its path is FastAPI's to answer.
    assert (await client.get("/hot/things/t1")).json()["code"] == "method_not_allowed"

    metrics = (await client.get("/metrics")).text
    for status in ("202", "409", "500"):
        assert (f'aria_http_requests_total{{method="POST",route="/hot/things/{{thing_id}}",service="platform-test",'
                f'status="{status}"}}') in metrics
    assert (await client.get("/openapi.json")).json()["paths"]["/hot/things/{thing_id}"]["post"]


async def test_a_client_gone_before_its_body_arrived_is_not_an_error(app, caplog):
    """Issue 17 item 6: a client disconnecting mid-request was logged as an unhandled error."""
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/hot/things/t9", "headers": [], "query_string": b"",
             "root_path": "", "scheme": "http", "server": ("t", 80), "client": ("c", 1)}
    assert await app.direct.serve(scope, receive, send)
    assert sent[0]["status"] == 499
    assert b"client_closed_request" in sent[1]["body"]
    assert "unhandled error" not in caplog.text
    assert "client disconnected" in caplog.text


def test_only_an_endpoint_that_takes_the_request_alone_can_be_direct(infra):
    settings = ServiceSettings(service_name="platform-test", database_url="postgresql://unused/x",
                               jwt_secret=infra.jwt_secret, kafka_bootstrap=infra.kafka_bootstrap)
    for name, error in (("make_thing", "must take the Request alone"), ("nothing", "no API route")):
        with pytest.raises(ValueError, match=error):
            create_app(ServiceDefinition(name="platform-test", title="t", description="d", settings=settings,
                                         routers=[router], direct_routes=[name]))


async def test_validation_errors_never_echo_input_values(client, infra):
    op = bearer(user_token(infra, org_id=uuid.uuid4(), role="operator"))
    response = await client.post("/things", json={"name": {"secret": "hunter2-value"}}, headers=op)
    assert response.status_code == 422 and "hunter2-value" not in response.text


def test_cursor_round_trip_and_tampering():
    assert decode_cursor(encode_cursor(["2026-01-01", "abc"]), arity=2) == ["2026-01-01", "abc"]
    for bad in ("%%%", encode_cursor([1]), "bm90IGpzb24"):
        with pytest.raises(Problem) as err:
            decode_cursor(bad, arity=2)
        assert err.value.code == "invalid_cursor"


def test_missing_settings_name_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("ARIA_DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as exit_:
        load_settings(ServiceSettings)
    assert exit_.value.code == 2 and "ARIA_DATABASE_URL" in capsys.readouterr().err


async def test_migrations_apply_once_and_refuse_edited_files(infra, tmp_path):
    url = await create_database(infra, "migrations")
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id int);")
    assert await migrate(url, tmp_path) == ["platform/0001_outbox_inbox.sql", "0001_things.sql"]
    assert await migrate(url, tmp_path) == []
    (tmp_path / "0001_things.sql").write_text("CREATE TABLE things (id bigint);")
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        await migrate(url, tmp_path)


async def test_outbox_rows_reach_kafka_once_and_inbox_claims_once(client, infra, database):
    inst, org = uuid.uuid4(), uuid.uuid4()
    envelope = Envelope.wrap(InstallationInstalled(installation_id=inst, org_id=org, integration_key="k", revision=1,
                                                   actor="t"), source="test", org_id=org, installation_id=inst)
    async with KafkaProbe(infra.kafka_bootstrap, "aria.installation.lifecycle") as probe:
        pool = await create_pool(database)
        conn = await pool.acquire()
        try:
            async with conn.transaction():
                await enqueue(conn, envelope)
            got = await probe.wait_for(lambda e: e.event_id == envelope.event_id)
            await probe.drain(0.5)
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
            assert await claim(conn, consumer="c", dedup_key=envelope.dedup_key) is True
            assert await claim(conn, consumer="c", dedup_key=envelope.dedup_key) is False
        finally:
            await pool.release(conn)
            await pool.close()
    assert len([e for _, e, _ in probe.seen if e.event_id == envelope.event_id]) == 1 and got
    metrics = (await client.get("/metrics")).text
    assert "aria_outbox_published_total" in metrics and "aria_kafka_published_messages_total" in metrics


def test_with_an_identity_provider_services_still_sign_their_own_identities():
    from aria_platform.auth import TokenVerifier, mint_token

    verifier = TokenVerifier(secret="shared", jwks_url="http://127.0.0.1:1/jwks.json", issuer="aria",
                             audience="aria-marketplace")
    assert verifier.verify(mint_token("shared", subject="service:installer", service="installer")).service == "installer"
    with pytest.raises(Problem) as refused:
        verifier.verify(mint_token("shared", subject="u", org_id=uuid.uuid4(), role="admin"))
    assert refused.value.code == "invalid_token"


def test_a_remembered_token_still_expires_and_a_tampered_one_is_never_remembered():
    import time

    import jwt

    from aria_platform.auth import TokenVerifier, mint_token

    verifier = TokenVerifier(secret="shared", jwks_url=None, issuer="aria", audience="aria-marketplace")
    token = mint_token("shared", subject="u", org_id=uuid.uuid4(), role="viewer", ttl_s=1)
    assert verifier.verify(token).subject == verifier.verify(token).subject == "u"
    header, payload, signature = token.split(".")
    with pytest.raises(Problem):
        verifier.verify(f"{header}.{payload}.{signature[::-1]}")
    with pytest.raises(Problem):
        verifier.verify(f"{header}.{payload}x.{signature}")
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)  # past the token's 1 s lifetime
    with pytest.raises(Problem) as expired:
        verifier.verify(token)
    assert expired.value.code == "invalid_token"


def test_bulk_encoded_events_read_back_as_the_envelopes_publish_would_send():
    # sync-runner sends entity events through encode_many (no Envelope model per event): consumers
    # must read exactly what publish(traced(...)) would have sent, each with its own v4 event id.
    import orjson

    from aria_contracts.events import Provenance, Risk
    from aria_platform import kafka
    from aria_platform.outbox import traced

    org, installation = uuid.uuid4(), uuid.uuid4()
    risks = [Risk(entity_id=uuid.uuid4(), org_id=org, title=f"risk {i}", severity="high", status="open",
                  provenance=Provenance(installation_id=installation, integration_key="x", connector_version="1",
                                        stream="alerts", external_id=str(i), raw_sha256="0" * 64))
             for i in range(200)]
    messages = kafka.encode_many(risks, source="sync-runner", org_id=org, installation_id=installation)
    ids = set()
    for risk, message in zip(risks, messages, strict=True):
        sent = Envelope.model_validate_json(message.value)
        expected = traced(risk, source="sync-runner", org_id=org, installation_id=installation)
        assert sent.model_dump(exclude={"event_id", "time"}) == expected.model_dump(exclude={"event_id", "time"})
        assert orjson.loads(message.value).keys() == orjson.loads(kafka.encode(expected)).keys()
        assert (message.topic, message.key) == (kafka.topic_for(expected), expected.key.encode())
        assert dict(message.headers)["event_id"] == str(sent.event_id).encode()
        assert sent.event_id.version == 4 and sent.event_id.variant == uuid.RFC_4122
        ids.add(sent.event_id)
    assert len(ids) == len(risks)


def test_user_tokens_are_bounded_to_twelve_hours_and_service_tokens_to_minutes():
    """Issue 17 item 5: no token without exp, none valid longer than its kind of identity may be."""
    from aria_platform.auth import MAX_SERVICE_TOKEN_LIFETIME_S, MAX_USER_TOKEN_LIFETIME_S, TokenVerifier, mint_token

    verifier = TokenVerifier(secret="shared", jwks_url=None, issuer="aria", audience="aria-marketplace")
    user = dict(subject="u", org_id=uuid.uuid4(), role="admin")
    assert verifier.verify(mint_token("shared", **user, ttl_s=MAX_USER_TOKEN_LIFETIME_S)).subject == "u"
    assert verifier.verify(mint_token("shared", subject="service:installer", service="installer")).service
    for too_long in (mint_token("shared", **user, ttl_s=MAX_USER_TOKEN_LIFETIME_S + 60),
                     mint_token("shared", **user, ttl_s=100 * 365 * 86400),
                     mint_token("shared", subject="service:installer", service="installer",
                                ttl_s=MAX_SERVICE_TOKEN_LIFETIME_S + 60)):
        with pytest.raises(Problem) as refused:
            verifier.verify(too_long)
        assert refused.value.code == "invalid_token" and refused.value.detail == "TokenLifetimeTooLong"
