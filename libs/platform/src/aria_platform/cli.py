"""The command line every service shares: `aria-<service> migrate | serve`."""

from __future__ import annotations

import asyncio
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
        """Run the HTTP API and the Kafka subscribers in one process."""
        settings = load_settings()
        app = create_app(define(settings))
        uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None,
                    timeout_graceful_shutdown=int(settings.shutdown_grace_s), access_log=False)

    return cli
