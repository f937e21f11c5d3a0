"""JSON Schema per event, generated from the models and kept in the repo (libs/contracts/schemas).

    python -m aria_contracts.schemas          # rewrite the files
    python -m aria_contracts.schemas --check  # exit 1 if the files drifted from the models
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .envelope import Envelope
from .events import EVENT_MODELS

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas"


def rendered() -> dict[str, str]:
    files = {"envelope.json": Envelope.model_json_schema()}
    for model in EVENT_MODELS:
        schema = model.model_json_schema()
        schema["x-event-type"] = model.event_type
        schema["x-topic"] = model.topic
        schema["x-schema-version"] = model.schema_version
        files[f"{model.event_type}.json"] = schema
    return {name: json.dumps(schema, indent=2, sort_keys=True) + "\n" for name, schema in files.items()}


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """Names of schema files that are missing, stale or no longer generated."""
    wanted = rendered()
    present = {p.name for p in directory.glob("*.json")} if directory.exists() else set()
    stale = [n for n, text in wanted.items() if not (directory / n).exists() or (directory / n).read_text() != text]
    return sorted(stale + sorted(present - wanted.keys()))


def write(directory: Path = SCHEMA_DIR) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in directory.glob("*.json")) - rendered().keys():
        (directory / stale).unlink()
    for name, text in rendered().items():
        (directory / name).write_text(text)


if __name__ == "__main__":
    if "--check" in sys.argv:
        bad = drift()
        if bad:
            print("schemas out of date: " + ", ".join(bad) + " (run python -m aria_contracts.schemas)")
            sys.exit(1)
    else:
        write()
