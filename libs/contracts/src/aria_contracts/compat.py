"""The guard on contract changes: today's JSON Schemas against the last released set.

    python -m aria_contracts.compat            # exit 1 and name each breaking change
    python -m aria_contracts.compat --release  # make today's schemas the released set

A change a subscriber of the released set cannot absorb is breaking: a removed event type, a
removed or retyped field, a new required field, a field no longer required, a narrowed enum or
Literal, a changed constraint or topic. It passes only when the event's `schema_version` was
raised and docs/contract-migrations.md has a section `## <event type> v<new version>` (for a
removed event type, `## <event type> removed`). Two kinds of change pass on their own, and
subscribers are told to tolerate them (docs/subscribers.md): a new optional field and a new
enum value. Titles, descriptions and defaults are documentation, not shape.

Written here rather than taken from PyPI: the JSON Schema compatibility checkers there answer
yes/no (naming no field) and, since our schemas forbid extra properties, count every added
optional field as breaking. Standard library only: aria_contracts depends on pydantic alone.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from .schemas import SCHEMA_DIR

RELEASED_DIR = SCHEMA_DIR / "released"
MIGRATIONS = SCHEMA_DIR.parents[2] / "docs" / "contract-migrations.md"

# Keys that document a schema without changing which messages it accepts.
_ANNOTATIONS = {"title", "description", "default", "examples"}
# Keys compared by _compare itself; any other key must be equal on both sides.
_STRUCTURE = {"properties", "required", "anyOf", "enum", "const", "$ref", "$defs", "items", "additionalProperties"}


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].removeprefix("#/$defs/")]
    return schema


def _enum(schema: dict[str, Any]) -> list[Any] | None:
    # A one-value Literal renders as `const`, more values as `enum`: the same thing to a subscriber.
    if "const" in schema:
        return [schema["const"]]
    return schema.get("enum")


def _compare(old: dict[str, Any], new: dict[str, Any], old_root: dict[str, Any], new_root: dict[str, Any],
             path: str) -> list[str]:
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    where = path or "(root)"
    problems: list[str] = []

    old_enum, new_enum = _enum(old), _enum(new)
    if old_enum is not None or new_enum is not None:
        if old_enum is None or new_enum is None:
            problems.append(f"{where}: retyped")
        elif missing := [v for v in old_enum if v not in new_enum]:
            problems.append(f"{where}: enum narrowed, {missing} removed")

    if ("anyOf" in old) != ("anyOf" in new) or len(old.get("anyOf", ())) != len(new.get("anyOf", ())):
        # e.g. `str` became `str | None`: one change, whatever else differs below.
        return [f"{where}: retyped"]
    for o, n in zip(old.get("anyOf", ()), new.get("anyOf", ())):
        problems += _compare(o, n, old_root, new_root, path)

    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", ())), set(new.get("required", ()))
    for name in old_props:
        field = f"{path}.{name}" if path else name
        if name not in new_props:
            problems.append(f"{field}: field removed")
            continue
        if name in old_req and name not in new_req:
            problems.append(f"{field}: no longer required")
        problems += _compare(old_props[name], new_props[name], old_root, new_root, field)
    for name in new_props.keys() - old_props.keys():
        if name in new_req:
            problems.append(f"{path + '.' if path else ''}{name}: new required field")
    for name in (new_req - old_req) & old_props.keys():
        problems.append(f"{path + '.' if path else ''}{name}: now required")

    for key in ("items", "additionalProperties"):
        o, n = old.get(key), new.get(key)
        if isinstance(o, dict) and isinstance(n, dict):
            problems += _compare(o, n, old_root, new_root, f"{path}[]" if key == "items" else f"{path}{{}}")
        elif o != n:
            problems.append(f"{where}: {key} changed from {o!r} to {n!r}")

    for key in sorted((old.keys() | new.keys()) - _ANNOTATIONS - _STRUCTURE):
        if old.get(key) != new.get(key):
            problems.append(f"{where}: {key} changed from {old.get(key)!r} to {new.get(key)!r}")
    return problems


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in `new` breaks a subscriber of `old` (two JSON Schema documents of one event)."""
    # The version is what a breaking change raises, not part of the shape.
    strip = {"x-schema-version"}
    return _compare({k: v for k, v in old.items() if k not in strip},
                    {k: v for k, v in new.items() if k not in strip}, old, new, "")


def _load(directory: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))}


def check(released: Path = RELEASED_DIR, current: Path = SCHEMA_DIR, migrations: Path = MIGRATIONS) -> list[str]:
    """One line per breaking change not covered by a raised schema_version and a migration section."""
    notes = set(re.findall(r"^## (\S+ (?:v\d+|removed))\s*$", migrations.read_text(), re.M)) \
        if migrations.exists() else set()
    old_set, new_set = _load(released), _load(current)
    failures: list[str] = []
    for event, old in old_set.items():
        if event not in new_set:
            if f"{event} removed" not in notes:
                failures.append(f"{event}: event type removed (describe it in {migrations.name} "
                                f"under '## {event} removed')")
            continue
        new = new_set[event]
        changes = breaking_changes(old, new)
        if not changes:
            continue
        old_v, new_v = old.get("x-schema-version"), new.get("x-schema-version")
        if old_v is None:
            # The envelope carries every event: it has no version of its own to raise.
            failures += [f"{event}: {c} (the envelope cannot change incompatibly)" for c in changes]
        elif new_v <= old_v:
            failures += [f"{event}: {c} (raise schema_version to {old_v + 1} and describe the migration in "
                         f"{migrations.name} under '## {event} v{old_v + 1}')" for c in changes]
        elif f"{event} v{new_v}" not in notes:
            failures += [f"{event}: {c} (schema_version {new_v} needs a section '## {event} v{new_v}' "
                         f"in {migrations.name})" for c in changes]
    return failures


def release(released: Path = RELEASED_DIR, current: Path = SCHEMA_DIR) -> None:
    released.mkdir(exist_ok=True)
    for stale in released.glob("*.json"):
        stale.unlink()
    for schema in current.glob("*.json"):
        shutil.copy(schema, released / schema.name)


if __name__ == "__main__":
    if "--release" in sys.argv:
        release()
    elif failures := check():
        print("breaking contract changes:\n  " + "\n  ".join(failures))
        sys.exit(1)
