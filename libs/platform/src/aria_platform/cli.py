"""The command line every service shares: `aria-<service> migrate | serve`."""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable
from pathlib import Path

import typer
import uvicorn

from .app import ServiceDefinition, create_app
from .db import migrate
from .settings import ServiceSettings


def service_cli(*, load_settings: Callable[[], ServiceSettings], define: Callable[[ServiceSettings], ServiceDefinition],
                migrations: Path) -> typer.Typer:
    cli = typer.Typer(add_completion=False, no_args_is_help=True)

    @cli.command("migrate")
    def migrate_cmd() -> None:
        """Apply this service's pending SQL migrations."""
        settings = load_settings()
        applied = asyncio.run(migrate(settings.database_url, migrations))
        typer.echo(f"{settings.service_name}: {len(applied)} migration(s) applied" +
                   (f": {', '.join(applied)}" if applied else ""))

    @cli.command("serve")
    def serve_cmd() -> None:
        """Run the HTTP API and the Kafka subscribers in one process per worker (ARIA_HTTP_WORKERS)."""
        settings = load_settings()
        common = dict(host=settings.http_host, port=settings.http_port, log_config=None, access_log=False,
                      timeout_graceful_shutdown=int(settings.shutdown_grace_s))
        if settings.http_workers == 1:
            uvicorn.run(create_app(define(settings)), **common)
            return
        # Worker processes build their own app: tell them where the service's wiring lives.
        os.environ[_WIRING] = f"{load_settings.__module__}:{load_settings.__name__}|{define.__module__}:{define.__name__}"
        # A spawned worker answers the supervisor's health ping only after importing the service,
        # which takes more than uvicorn's default 5 s on a busy 2-core machine: the supervisor then
        # kills and respawns its workers in a loop and the service never serves. 30 s still catches
        # a hung worker.
        uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.http_workers,
                    timeout_worker_healthcheck=30, **common)

    return cli


_WIRING = "ARIA_SERVICE_WIRING"


def _resolve(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def worker_app():
    """App factory for uvicorn worker processes (see serve)."""
    load_path, define_path = os.environ[_WIRING].split("|")
    return create_app(_resolve(define_path)(_resolve(load_path)()))
