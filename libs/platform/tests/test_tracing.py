"""Traces of a service app, with and without an OTLP exporter configured (aria_platform.telemetry).

Tracing is configured once per process, so each case runs the app in its own process (uvicorn,
the `traced_app` factory below), with or without OTEL_EXPORTER_OTLP_ENDPOINT. With it, spans go
over OTLP/HTTP to a receiver this test serves, decoded with the OTLP protobuf definitions.
"""

import asyncio
import gzip
import os
import subprocess
import sys
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, Request
from opentelemetry.instrumentation.utils import suppress_http_instrumentation
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (ExportTraceServiceRequest,
                                                                      ExportTraceServiceResponse)
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aria_contracts.events import InstallationInstalled
from aria_platform.app import ServiceDefinition, create_app
from aria_platform.outbox import enqueue, traced
from aria_platform.settings import ServiceSettings, load_settings
from aria_platform.testing import KafkaProbe, free_port, migrated_database, serving

router = APIRouter()


@router.post("/installations/{installation_id}/announce", status_code=202)
async def announce(installation_id: uuid.UUID, request: Request) -> dict:
    """A state change's event, through the outbox as the services write theirs."""
    org = uuid.uuid4()
    envelope = traced(InstallationInstalled(installation_id=installation_id, org_id=org, integration_key="k",
                                            revision=1, actor="t"),
                      source="tracing-test", org_id=org, installation_id=installation_id)
    async with request.app.state.runtime.pool.acquire() as conn, conn.transaction():
        await enqueue(conn, envelope)
    return {"event_id": str(envelope.event_id)}


@router.post("/hot/{thing}", name="hot", status_code=202)
async def hot(request: Request) -> JSONResponse:
    """A direct route (aria_platform.direct): its span is the platform's, not FastAPI's instrumentation's."""
    return JSONResponse({"thing": request.path_params["thing"]}, status_code=202)


def traced_app():
    """uvicorn factory for the app's own process (settings from the environment)."""
    return create_app(ServiceDefinition(name="tracing-test", title="t", description="d",
                                        settings=load_settings(ServiceSettings), routers=[router],
                                        direct_routes=["hot"]))


class OtlpReceiver:
    """An OTLP/HTTP trace receiver: keeps every span exported to it."""

    def __init__(self):
        self.spans: list[tuple[dict[str, str], Span]] = []  # (resource attributes, span)
        self.app = Starlette(routes=[Route("/v1/traces", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend((resource, span) for span in scope_spans.spans)
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type="application/x-protobuf")


@asynccontextmanager
async def service_process(infra, database: str, log: Path, *, otlp_endpoint: str | None):
    """The app served by uvicorn in its own process; yields its URL once it answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env.update(ARIA_SERVICE_NAME="tracing-test", ARIA_DATABASE_URL=database, ARIA_KAFKA_BOOTSTRAP=infra.kafka_bootstrap,
               ARIA_JWT_SECRET=infra.jwt_secret, ARIA_OUTBOX_POLL_INTERVAL_S="0.2")
    if otlp_endpoint:
        # Export each batch of spans within 50 ms instead of the default 5 s.
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint, OTEL_BSP_SCHEDULE_DELAY="50")
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", f"{Path(__file__).stem}:traced_app",
             "--app-dir", str(Path(__file__).parent), "--port", str(port), "--log-level", "warning"],
            env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                assert process.poll() is None, f"the service exited:\n{log.read_text()}"
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        yield url
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


@pytest.fixture(scope="module")
async def database(infra, kafka_topics, tmp_path_factory):
    return await migrated_database(infra, "tracing", tmp_path_factory.mktemp("no-service-migrations"))


async def announce_with_traceparent(url: str, probe: KafkaProbe, trace_id: str, span_id: str):
    """POST as a traced caller; returns the event the request published, as Kafka delivered it."""
    installation = uuid.uuid4()
    # This process's httpx may be instrumented (another test's app configured tracing here): it would
    # replace our traceparent with its own span's. The header goes out as written.
    with suppress_http_instrumentation():
        async with httpx.AsyncClient() as client:
            answer = await client.post(f"{url}/installations/{installation}/announce",
                                       headers={"traceparent": f"00-{trace_id}-{span_id}-01"})
    assert answer.status_code == 202, answer.text
    published = await probe.wait_for(lambda e: e.installation_id == installation)
    assert published, "the request's event never reached Kafka"
    [(_, envelope, headers)] = [seen for seen in probe.seen if seen[1].installation_id == installation]
    assert headers["traceparent"].decode() == envelope.traceparent
    return envelope


async def test_with_an_exporter_a_request_is_one_server_span_in_the_callers_trace(infra, database, tmp_path):
    receiver = OtlpReceiver()
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with serving(receiver.app) as otlp, \
            service_process(infra, database, tmp_path / "service.log", otlp_endpoint=otlp) as url, \
            KafkaProbe(infra.kafka_bootstrap, "aria.installation.lifecycle") as probe:
        envelope = await announce_with_traceparent(url, probe, trace_id, caller_span)
        for _ in range(100):
            ours = [(resource, span) for resource, span in receiver.spans if span.trace_id.hex() == trace_id]
            if ours:
                break
            await asyncio.sleep(0.1)
    # One span for the request (not its ASGI receive/send steps, which would have ended, and been
    # exported, before it): a server span, child of the caller's, named by the route.
    assert len(ours) == 1, f"spans of the caller's trace: {[span.name for _, span in ours]}"
    [(resource, span)] = ours
    assert resource["service.name"] == "aria-tracing-test"
    assert span.kind == Span.SPAN_KIND_SERVER and span.parent_span_id.hex() == caller_span
    assert span.name == "POST /installations/{installation_id}/announce"
    # The event the request wrote carries the request's span as its parent, into the consumers' traces.
    assert envelope.traceparent == f"00-{trace_id}-{span.span_id.hex()}-01"


async def test_with_an_exporter_a_direct_route_is_one_server_span_named_by_its_route(infra, database, tmp_path):
    receiver = OtlpReceiver()
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with serving(receiver.app) as otlp, \
            service_process(infra, database, tmp_path / "service.log", otlp_endpoint=otlp) as url:
        with suppress_http_instrumentation():
            async with httpx.AsyncClient() as client:
                answer = await client.post(f"{url}/hot/t1", headers={"traceparent": f"00-{trace_id}-{caller_span}-01"})
        assert answer.status_code == 202 and answer.json() == {"thing": "t1"}
        for _ in range(100):
            ours = [span for _, span in receiver.spans if span.trace_id.hex() == trace_id]
            if ours:
                break
            await asyncio.sleep(0.1)
    assert len(ours) == 1, f"spans of the caller's trace: {[span.name for span in ours]}"
    [span] = ours
    assert span.kind == Span.SPAN_KIND_SERVER and span.parent_span_id.hex() == caller_span
    assert span.name == "POST /hot/{thing}"
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["http.route"].string_value == "/hot/{thing}"
    assert attributes["url.path"].string_value == "/hot/t1"
    assert attributes["http.response.status_code"].int_value == 202


async def test_without_an_exporter_published_events_carry_the_callers_trace(infra, database, tmp_path):
    trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    async with service_process(infra, database, tmp_path / "service.log", otlp_endpoint=None) as url, \
            KafkaProbe(infra.kafka_bootstrap, "aria.installation.lifecycle") as probe:
        envelope = await announce_with_traceparent(url, probe, trace_id, caller_span)
        next_trace_id = uuid.uuid4().hex
        following = await announce_with_traceparent(url, probe, next_trace_id, caller_span)
    # The caller's trace, under the request's own (unrecorded, unsampled) span; each request its own.
    version, trace, parent, _flags = envelope.traceparent.split("-")
    assert (version, trace) == ("00", trace_id) and parent != caller_span
    assert following.traceparent.split("-")[1] == next_trace_id
