"""The scaffolding command creates a connector that loads and passes the conformance suite as generated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aria_connector_testkit.scaffold import scaffold

TESTS = Path(__file__).parent


def test_scaffold_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError):
        scaffold("Bad-Key", name="x", vendor="y", category="edr", dest=tmp_path)
    with pytest.raises(ValueError):
        scaffold("good_key", name="x", vendor="y", category="toaster", dest=tmp_path)
    scaffold("good_key", name="x", vendor="y", category="edr", dest=tmp_path)
    with pytest.raises(FileExistsError):
        scaffold("good_key", name="x", vendor="y", category="edr", dest=tmp_path)


def test_scaffolded_connector_passes_the_conformance_suite(tmp_path):
    out = subprocess.run([sys.executable, "-m", "aria_connector_testkit.scaffold", "scaffold_demo", "--name", 'Acme "EDR"',
                          "--vendor", "Acme Inc.", "--category", "edr", "--dest", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert 'scaffold_demo = "scaffold_demo:connector"' in out.stdout
    assert sorted(p.name for p in (tmp_path / "scaffold_demo").iterdir()) == [
        "__init__.py", "conformance.yaml", "manifest.yaml", "simulator.py"]
    dist = tmp_path / "scaffold_demo-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: scaffold-demo\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[aria.connectors]\nscaffold_demo = scaffold_demo:connector\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    env.pop("ARIA_WRITE_QUALITY", None)
    run = subprocess.run([sys.executable, "-m", "pytest", str(TESTS / "test_conformance.py"), "-q", "-p",
                          "no:cacheprovider", "-k", "scaffold_demo", "--rootdir", str(TESTS.parents[2])],
                         capture_output=True, text=True, timeout=240, env=env, cwd=TESTS.parents[2])
    tail = run.stdout[-3000:]
    assert run.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail and "error" not in tail.lower(), tail
