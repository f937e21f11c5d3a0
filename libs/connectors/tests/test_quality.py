"""Quality tiers are computed from the conformance suite, never hand-written.

Runs last (conftest.py orders it). When the whole suite ran, the tiers computed from this
run must equal the committed ``aria_connectors/quality.json``; ``ARIA_WRITE_QUALITY=1``
rewrites the file from this run first. A partial run (``-k``, a single test id) skips.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from aria_connectors import registry
from aria_connectors.sdk import quality
from aria_connector_testkit.quality import CRITERIA, tier_of

PLUGINS = registry.discover(strict=True)
KEYS = sorted(PLUGINS)


def conformance_tests() -> dict[str, list[str]]:
    """test function name -> criteria, from the conformance module's markers."""
    modules = [m for name, m in sys.modules.items() if name.split(".")[-1] in ("test_conformance", "test_replay")]
    out: dict[str, list[str]] = {}
    for name, fn in (item for module in modules for item in vars(module).items()):
        if name.startswith("test_") and callable(fn):
            marks = [m.args[0] for m in getattr(fn, "pytestmark", []) if m.name == "quality"]
            if marks:
                out[name] = marks
    return out


def computed(QUALITY_OUTCOMES: dict) -> dict:
    tests = conformance_tests()
    connectors = {}
    for key in KEYS:
        criteria: dict[str, str] = {}
        for criterion in CRITERIA:
            outcomes = [QUALITY_OUTCOMES[(t, key)] for t, marks in tests.items() if criterion in marks]
            if "failed" in outcomes:
                criteria[criterion] = "fail"
            elif "passed" in outcomes:
                criteria[criterion] = "pass"
            else:
                criteria[criterion] = "n/a"
        connectors[key] = {"version": PLUGINS[key].manifest.version, "tier": tier_of(criteria),
                           "criteria": criteria}
    return {"generated_by": "libs/connectors/tests (ARIA_WRITE_QUALITY=1 uv run --frozen pytest libs/connectors)",
            "tiers": "bronze: manifest+auth+ingest; silver: +incremental, rate_limits, error_classification; "
                     "gold: +(webhooks or push), health, preview, replay",
            "connectors": connectors}


def test_quality_tiers_match_committed(quality_results):
    QUALITY_OUTCOMES, QUALITY_DESELECTED = quality_results
    if "test_conformance" not in {n.split(".")[-1] for n in sys.modules}:
        pytest.skip("partial run: the conformance suite was not collected")
    tests = conformance_tests()
    missing = [(t, k) for t in tests for k in KEYS if (t, k) not in QUALITY_OUTCOMES]
    if QUALITY_DESELECTED or missing:
        pytest.skip(f"partial run: {len(missing)} conformance results missing; tiers need the whole suite")
    data = computed(QUALITY_OUTCOMES)
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if os.environ.get("ARIA_WRITE_QUALITY") == "1":
        quality.QUALITY_PATH.write_text(text)
        quality.reload()
    committed = json.loads(quality.QUALITY_PATH.read_text()) if quality.QUALITY_PATH.exists() else {}
    assert committed.get("connectors") == data["connectors"], (
        "aria_connectors/quality.json disagrees with this conformance run; regenerate it with "
        "ARIA_WRITE_QUALITY=1 uv run --frozen pytest libs/connectors")
    for key in KEYS:
        assert PLUGINS[key].manifest.catalog_entry()["quality_tier"] == data["connectors"][key]["tier"]
