"""docs/connectors.md lists every connector from the registry; the table cannot drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from aria_connectors import registry
from aria_connectors.docs import BEGIN, END, connectors_table, render_page

PAGE = Path(__file__).resolve().parents[3] / "docs" / "connectors.md"


def test_committed_connectors_table_is_current():
    text = PAGE.read_text()
    assert render_page(text, connectors_table()) == text, \
        "docs/connectors.md is stale: run uv run --frozen python -m aria_connectors.docs"


def test_table_lists_every_connector_with_its_push_actions_and_tier():
    table = connectors_table()
    for key, plugin in registry.discover(strict=True).items():
        row = next(line for line in table.splitlines() if line.startswith(f"| `{key}` |"))
        for action in plugin.manifest.push:
            assert action.name in row
        assert plugin.manifest.catalog_entry()["quality_tier"] in row


def test_render_page_needs_the_markers():
    assert render_page(f"a\n{BEGIN}\nold\n{END}\nb", "new") == f"a\n{BEGIN}\nnew\n{END}\nb"
    with pytest.raises(ValueError):
        render_page("no markers", "new")
