"""Write the public OpenAPI documents the console's client is generated from (no running stack).

    uv run --frozen python ui/scripts/export_openapi.py OUT_DIR

Builds each service's FastAPI app offline (create_app without its Kafka subscribers; nothing
connects) and keeps the paths the edge routes publicly (/v1/...; never /internal/...).
The installer's is built with its local dev sign-in on, so the console's client knows it.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from aria_platform.app import create_app

DUMMY = {"database_url": "postgresql://unused@127.0.0.1/unused", "jwt_secret": "offline-openapi-export"}


def _public(doc: dict) -> dict:
    doc["paths"] = {p: v for p, v in sorted(doc["paths"].items()) if p.startswith("/v1/")}
    return doc


def documents() -> dict[str, dict]:
    from aria_catalog.main import define as catalog
    from aria_catalog.settings import CatalogSettings
    from aria_installer.main import define as installer
    from aria_installer.settings import InstallerSettings

    out = {}
    for name, define, settings in (
        ("catalog", catalog, CatalogSettings(**DUMMY)),
        ("installer", installer, InstallerSettings(**DUMMY, dev_signin=True)),
    ):
        app = create_app(dataclasses.replace(define(settings), kafka_routers=()))
        out[name] = _public(app.openapi())
    return out


def main() -> None:
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, doc in documents().items():
        (out_dir / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
