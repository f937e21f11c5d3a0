"""Builds one process that runs a service's FastAPI app and its FastStream subscribers together."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from faststream.kafka import KafkaRouter
from faststream.specification import AsyncAPI, get_asyncapi_html
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from . import openapi, retention
from .auth import TokenVerifier
from .db import create_pool
from .direct import DirectRoutes
from .kafka import create_broker
from .logging import configure_logging
from .metrics import RequestMetrics
from .outbox import OutboxRelay
from .runtime import Runtime
from .settings import ServiceSettings
from .problems import install_problem_handlers
from .retention import LogTable
from .telemetry import FASTAPI_TELEMETRY, configure_tracing, instrument_app

log = structlog.get_logger(__name__)
Hook = Callable[[Runtime], Awaitable[None]]
ReadinessCheck = Callable[[Runtime], Awaitable[None]]
# Of the runtime's HTTP client (service-to-service calls): a callee that does slow work for a
# caller (sync-runner testing a vendor) must answer within it.
HTTP_TIMEOUT_S = 10.0


@dataclass
class ServiceDefinition:
    """Everything main.py wires together for one service."""

    name: str
    title: str
    description: str
    settings: ServiceSettings
    routers: Sequence[APIRouter] = ()
    kafka_routers: Sequence[KafkaRouter] = ()
    on_start: Sequence[Hook] = ()
    on_stop: Sequence[Hook] = ()
    background: Sequence[Hook] = ()
    """Long-running loops (retention purge, rotation): started once the service is up, cancelled
    (and awaited) at shutdown before the on_stop hooks."""
    readiness: Sequence[ReadinessCheck] = ()
    outbox: bool = True
    version: str = "0.1.0"
    openapi_tags: list[dict] = field(default_factory=list)
    db_session: dict[str, str] = field(default_factory=dict)  # Postgres settings of the pool's sessions
    direct_routes: Sequence[str] = ()
    """Names of API routes served ahead of FastAPI's middleware and routing (direct.py): only a
    hot endpoint that takes the Request alone."""
    log_tables: Sequence[LogTable] = ()
    """Tables of records kept for the retention (settings.retention_days), then purged; the
    platform's inbox (processed_events) is always one."""


class ServiceApp(FastAPI):
    """A service's FastAPI app, which serves its direct routes itself."""

    direct: DirectRoutes | None = None

    async def __call__(self, scope, receive, send) -> None:
        if self.direct is not None and scope["type"] == "http" and await self.direct.serve(scope, receive, send):
            return
        await super().__call__(scope, receive, send)

    def openapi(self) -> dict:
        if self.openapi_schema is None:
            self.openapi_schema = openapi.complete(super().openapi(), self.routes)
        return self.openapi_schema


# A request or a sync page allocates many short-lived objects (decoded JSON, models, events); at
# CPython's default threshold (700 allocations) the cycle collector runs every few requests and
# rescans everything alive, which is a third of a sync's CPU and pauses of tens of ms in latency
# tails. Reference counting frees nearly all of them anyway; only cycles wait for the collector.
GC_THRESHOLDS = (50_000, 10, 10)

# The inbox: a Kafka redelivery older than the retention is not expected (topics keep 7-30 days).
INBOX = LogTable("processed_events", "processed_at")


def tune_gc() -> None:
    """Collector settings for a service process; what is alive once it started (modules, manifests,
    pools) is frozen out of every later collection."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(service: ServiceDefinition) -> ServiceApp:
    settings = service.settings
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name)
    broker = create_broker(settings.kafka_bootstrap, client_id=f"aria-{service.name}",
                           graceful_timeout_s=settings.shutdown_grace_s)
    for router in service.kafka_routers:
        broker.include_router(router)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        pool = await create_pool(settings.database_url, server_settings=service.db_session or None)
        runtime = Runtime(settings=settings, pool=pool, broker=broker, http=httpx.AsyncClient(timeout=HTTP_TIMEOUT_S))
        app.state.runtime = runtime
        broker.context.set_global("runtime", runtime)
        # Hooks first: subscribers may get a message as soon as the broker starts.
        for hook in service.on_start:
            await hook(runtime)
        await broker.start()
        relay = OutboxRelay(pool, broker, poll_interval_s=settings.outbox_poll_interval_s) if service.outbox else None
        if relay:
            await relay.start()
        loops = [asyncio.create_task(job(runtime), name=job.__name__) for job in service.background]
        loops.append(asyncio.create_task(retention.keep(
            pool=pool, tables=(INBOX, *service.log_tables), retention_days=settings.retention_days,
            interval_s=settings.retention_interval_s), name="retention"))
        tune_gc()
        log.info("service started", port=settings.http_port)
        try:
            yield
        finally:
            # Stop taking work, finish what is in flight, then release connections. The relay
            # stops before the broker: its batch in flight needs the producer to be acknowledged.
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)
            for hook in reversed(service.on_stop):
                await hook(runtime)
            if relay:
                await relay.stop(timeout_s=settings.shutdown_grace_s)
            await broker.stop()
            await runtime.http.aclose()
            await pool.close()
            log.info("service stopped")

    app = ServiceApp(title=service.title, description=service.description, version=service.version,
                  lifespan=lifespan, openapi_tags=service.openapi_tags or None, telemetry=FASTAPI_TELEMETRY)
    app.state.token_verifier = TokenVerifier(
        secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        jwks_url=settings.jwt_jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
    )
    install_problem_handlers(app)
    # The service's routes first: every request is matched against the routes in order (~0.8 µs
    # each), and the service's are the ones that carry the load, the probes and metrics the few.
    for router in service.routers:
        app.include_router(router)
    _install_metrics(app, service.name)
    _install_probes(app, service)
    _install_asyncapi(app, service, broker)
    instrument_app(app)
    if service.direct_routes:
        app.direct = DirectRoutes(app, service.direct_routes, service=service.name)
    return app


def _install_metrics(app: FastAPI, name: str) -> None:
    app.add_middleware(RequestMetrics, service=name)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _install_probes(app: FastAPI, service: ServiceDefinition) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process is up")
    async def healthz() -> dict:
        return {"status": "ok", "service": service.name}

    @app.get("/readyz", tags=["operations"], summary="Readiness: Postgres, Kafka and dependencies answer")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}

        async def postgres(rt: Runtime) -> None:
            await rt.pool.fetchval("SELECT 1")

        async def kafka(rt: Runtime) -> None:
            if not await rt.broker.ping(timeout=2.0):
                raise RuntimeError("broker unreachable")

        named = [("postgres", postgres), ("kafka", kafka)] + [(c.__name__, c) for c in service.readiness]
        for check_name, check in named:
            try:
                await asyncio.wait_for(check(runtime), 3.0)
                checks[check_name] = "ok"
            except Exception as exc:  # readiness reports, never raises
                checks[check_name] = f"failing: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                            status_code=200 if ready else 503)


def _install_asyncapi(app: FastAPI, service: ServiceDefinition, broker) -> None:
    def spec():
        return AsyncAPI(broker, title=f"aria-{service.name} events", version=service.version).to_specification()

    @app.get("/asyncapi.json", tags=["operations"], summary="AsyncAPI document of this service's Kafka events")
    async def asyncapi_json() -> Response:
        return Response(spec().to_json(), media_type="application/json")

    @app.get("/asyncapi", include_in_schema=False)
    async def asyncapi_html() -> HTMLResponse:
        return HTMLResponse(get_asyncapi_html(spec()))
