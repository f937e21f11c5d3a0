"""The guard on contract changes (aria_contracts.compat): today's schemas against the released set."""

import json
import shutil
from pathlib import Path

import pytest

from aria_contracts import compat
from aria_contracts.schemas import SCHEMA_DIR


def test_the_current_schemas_are_compatible_with_the_released_set():
    assert compat.check() == [], "see libs/contracts/schemas/released/README.md"


@pytest.fixture
def tree(tmp_path: Path):
    """A copy of the released set and of today's schemas, and an empty migrations doc."""
    shutil.copytree(compat.RELEASED_DIR, tmp_path / "released")
    (tmp_path / "current").mkdir()
    for schema in SCHEMA_DIR.glob("*.json"):
        shutil.copy(schema, tmp_path / "current" / schema.name)
    (tmp_path / "migrations.md").write_text("# migrations\n")

    def edit(event: str, change) -> None:
        path = tmp_path / "current" / f"{event}.json"
        schema = json.loads(path.read_text())
        change(schema)
        path.write_text(json.dumps(schema))

    def check() -> list[str]:
        return compat.check(tmp_path / "released", tmp_path / "current", tmp_path / "migrations.md")

    return tmp_path, edit, check


def _remove_title(schema: dict) -> None:
    del schema["properties"]["title"]
    schema["required"].remove("title")


def test_a_removed_field_fails_naming_the_event_and_the_field(tree):
    _, edit, check = tree
    edit("risk.observed", _remove_title)
    [failure] = check()
    assert failure.startswith("risk.observed: title: field removed")
    assert "raise schema_version to 2" in failure


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: s["properties"]["severity"]["enum"].remove("info"), "severity: enum narrowed, ['info'] removed"),
    (lambda s: s["$defs"]["Provenance"]["properties"]["stream"].update(type="integer"),
     "provenance.stream: type changed from 'string' to 'integer'"),
    (lambda s: s["properties"]["category"].pop("anyOf") and s["properties"]["category"].update(type="string"),
     "category: retyped"),
    (lambda s: s["properties"].update(origin={"type": "string"}) or s["required"].append("origin"),
     "origin: new required field"),
])
def test_each_kind_of_breaking_change_fails(tree, change, expected):
    _, edit, check = tree
    edit("risk.observed", change)
    [failure] = check()
    assert failure.startswith(f"risk.observed: {expected}"), failure


def test_a_removed_event_type_fails(tree):
    tmp, _, check = tree
    (tmp / "current" / "ticket.observed.json").unlink()
    assert check() == ["ticket.observed: event type removed (describe it in migrations.md under "
                       "'## ticket.observed removed')"]


def test_a_raised_schema_version_passes_only_with_a_migration_note(tree):
    tmp, edit, check = tree
    edit("risk.observed", lambda s: _remove_title(s) or s.update({"x-schema-version": 2}))
    assert check() == ["risk.observed: title: field removed (schema_version 2 needs a section "
                       "'## risk.observed v2' in migrations.md)"]
    (tmp / "migrations.md").write_text("# migrations\n\n## risk.observed v2\n\n`title` is gone: use ...\n")
    assert check() == []


def test_compatible_additions_pass(tree):
    _, edit, check = tree
    edit("asset.observed", lambda s: s["properties"].update(
        serial_number={"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}))
    edit("risk.observed", lambda s: s["properties"]["status"]["enum"].append("reopened"))
    edit("alert.observed", lambda s: s["properties"]["title"].update(description="Said otherwise."))
    assert check() == []


def test_the_envelope_cannot_change_incompatibly(tree):
    _, edit, check = tree
    edit("envelope", lambda s: s["required"].append("installation_id"))
    assert check() == ["envelope: installation_id: now required (the envelope cannot change incompatibly)"]
