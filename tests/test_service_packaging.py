"""Each service imports and starts its CLI from exactly the package set its image installs.

For each service, deploy/docker/install.sh — the script deploy/docker/service.Dockerfile builds
the image with — installs the service's locked closure (`uv export --frozen --package
aria-<service> --no-dev`, workspace members non-editable from their paths) into a fresh venv.
In that venv, and nowhere else (isolated mode, run from an empty directory):
- the installed distributions are exactly the export's;
- the console script `aria-<service> --help` lists `serve` and `migrate` (run in the probe's
  interpreter, the one its shebang names, so the imports are paid once);
- every module of the service package imports (pkgutil walk);
- `aria_connector_testkit` (simulators, fixtures) is not importable.
The simulator image (the test kit's closure) is checked the same way for its command.

All venvs share the user's uv cache, which `uv sync` has filled (nothing is downloaded; the
workspace members are rebuilt from source each time, as in the image). The module took 36 s on
the 2-core development VM at load average 7 (5-8.5 s per service, 3.4 s for the simulator);
no infrastructure is needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker

pytestmark = pytest.mark.packaging

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "deploy" / "docker" / "install.sh"
SERVICES = sorted(p.parent.name for p in REPO.glob("services/*/pyproject.toml"))
MEMBERS = sorted(p.parent.relative_to(REPO).as_posix() for p in REPO.glob("*/*/pyproject.toml")
                 if p.parts[-3] in ("libs", "services"))

# Run inside the image's venv: imports every module of one package, reports what failed, whether
# the test kit is importable, and the installed distributions.
PROBE = r"""
import contextlib, importlib, importlib.metadata, importlib.util, io, json, pkgutil, runpy, sys, traceback
package, command = sys.argv[1], json.loads(sys.argv[2])
failed, imported = {}, []
root = importlib.import_module(package)
for info in pkgutil.walk_packages(root.__path__, package + ".", onerror=lambda name: failed.setdefault(name, traceback.format_exc())):
    if info.name.endswith(".__main__"):
        continue  # a program, run by `python -m`, not imported
    try:
        importlib.import_module(info.name)
        imported.append(info.name)
    except BaseException:
        failed[info.name] = traceback.format_exc()
testkit = importlib.util.find_spec("aria_connector_testkit") is not None
# The image's command, in this interpreter (the imports above are not paid twice): a console
# script (bin/aria-<service>, the file its shebang runs with this python) or `python -m module`.
cli = {"exit": None, "stdout": "", "error": ""}
if command:
    out = io.StringIO()
    sys.argv = [command.get("script") or command["module"], *command["args"]]
    try:
        with contextlib.redirect_stdout(out):
            if "script" in command:
                runpy.run_path(command["script"], run_name="__main__")
            else:
                runpy.run_module(command["module"], run_name="__main__", alter_sys=True)
        cli["exit"] = 0
    except SystemExit as exc:
        cli["exit"] = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        cli["exit"], cli["error"] = 1, traceback.format_exc()
    cli["stdout"] = out.getvalue()
print(json.dumps({
    "imported": imported,
    "failed": failed,
    "testkit": testkit,
    "cli": cli,
    "distributions": sorted({d.metadata["Name"] for d in importlib.metadata.distributions()}),
    "executable": sys.executable,
}))
"""

def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _uv() -> str:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local" / "bin"))
    if uv is None:
        pytest.fail("uv is not on PATH (deploy/local/test.sh installs it)")
    return uv


def _install(package: str, venv: Path) -> set[str]:
    """Install ``package``'s closure the image's way; return the exported distribution names."""
    uv = _uv()
    env = {**os.environ, "PATH": f"{Path(uv).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           # the workspace's interpreter; the user's uv cache (shared by every venv: no downloads)
           "UV_PYTHON": sys.executable}
    for var in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH"):
        env.pop(var, None)
    result = subprocess.run(["sh", str(INSTALL), package, str(venv)], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, f"{INSTALL.name} {package} failed:\n{result.stdout}\n{result.stderr}"
    names = set()
    for line in (venv / "requirements.txt").read_text().splitlines():
        line, _, marker = (part.strip() for part in line.partition(";"))
        if not line or line.startswith("#") or (marker and not Marker(marker).evaluate()):
            continue  # e.g. colorama on Windows only
        if line.startswith("./"):  # a workspace member, by path
            names.add(_norm(_member_name(REPO / line)))
        else:
            names.add(_norm(re.split(r"[=<>!~\[ ]", line, maxsplit=1)[0]))
    return names


def _member_name(member: Path) -> str:
    return tomllib.loads((member / "pyproject.toml").read_text())["project"]["name"]


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "UV_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"
    return subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _probe(venv: Path, package: str, cwd: Path, command: dict[str, object]) -> dict:
    result = _run(venv, str(venv / "bin" / "python"), "-I", "-c", PROBE, package, json.dumps(command), cwd=cwd)
    assert result.returncode == 0, f"probe of {package} failed:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def _installed(probe: dict) -> set[str]:
    # uv venv installs no pip/setuptools: the venv holds the export's distributions alone
    return {_norm(n) for n in probe["distributions"]}


@pytest.mark.parametrize("service", SERVICES)
def test_service_runs_from_its_image_package_set(service: str, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    exported = _install(f"aria-{service}", venv)
    assert f"aria-{service}" in exported
    assert "aria-connector-testkit" not in exported, "the test kit must never be in a service image"

    empty = tmp_path / "cwd"
    empty.mkdir()
    script = venv / "bin" / f"aria-{service}"
    assert script.is_file(), f"no console script aria-{service}"
    assert script.read_text().startswith(f"#!{venv / 'bin' / 'python'}"), script.read_text()[:200]
    probe = _probe(venv, "aria_" + service.replace("-", "_"), empty, {"script": str(script), "args": ["--help"]})
    assert Path(probe["executable"]).is_relative_to(venv), probe["executable"]
    assert _installed(probe) == exported, (
        f"installed but not exported: {sorted(_installed(probe) - exported)}; "
        f"exported but not installed: {sorted(exported - _installed(probe))}")
    assert not probe["failed"], "modules that do not import from the image's packages:\n" + "\n".join(
        f"--- {name}\n{tb}" for name, tb in probe["failed"].items())
    assert probe["imported"], "no modules found"
    assert not probe["testkit"], "aria_connector_testkit is importable in the service's package set"

    cli = probe["cli"]
    assert cli["exit"] == 0, f"aria-{service} --help failed ({cli['exit']}):\n{cli['stdout']}\n{cli['error']}"
    for command in ("serve", "migrate"):
        assert re.search(rf"\b{command}\b", cli["stdout"]), f"aria-{service} --help lists no {command}:\n{cli['stdout']}"


def test_simulator_runs_from_its_image_package_set(tmp_path: Path) -> None:
    """docker-compose.yml's simulator image: the test kit's closure, no service."""
    venv = tmp_path / "venv"
    exported = _install("aria-connector-testkit", venv)
    assert not {f"aria-{s}" for s in SERVICES} & exported, "a service in the simulator image"
    empty = tmp_path / "cwd"
    empty.mkdir()
    # docker-compose.yml runs `python -m aria_connector_testkit.simulators serve crowdstrike_falcon`;
    # `list` goes as far as finding the simulators it can serve
    probe = _probe(venv, "aria_connector_testkit", empty,
                   {"module": "aria_connector_testkit.simulators", "args": ["list"]})
    assert _installed(probe) == exported
    assert not probe["failed"], "\n".join(f"--- {name}\n{tb}" for name, tb in probe["failed"].items())
    cli = probe["cli"]
    assert cli["exit"] == 0, f"simulators list failed ({cli['exit']}):\n{cli['stdout']}\n{cli['error']}"
    assert "crowdstrike_falcon" in cli["stdout"].split(), cli["stdout"]


def test_dockerfile_sees_every_workspace_member() -> None:
    """The image's export stage copies every member's pyproject.toml (the workspace uv.lock
    describes), so a new library or service is not silently missing from the export."""
    dockerfile = (REPO / "deploy" / "docker" / "service.Dockerfile").read_text()
    copied = set(re.findall(r"^COPY\s+(\S+)/pyproject\.toml\s", dockerfile, flags=re.M))
    assert set(MEMBERS) <= copied, f"add COPY lines for {sorted(set(MEMBERS) - copied)}"
    assert len(SERVICES) >= 5


def test_compose_runs_the_test_kit_only_from_the_simulator_image() -> None:
    """docker-compose.yml: whatever runs aria_connector_testkit builds the Dockerfile's simulator
    target (which exists); every other image built from the Dockerfile is a service image."""
    import yaml

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    dockerfile = (REPO / "deploy" / "docker" / "service.Dockerfile").read_text()
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile, flags=re.M | re.I))
    assert "simulator" in stages
    last_stage = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", dockerfile, flags=re.M | re.I)[-1]
    assert last_stage == "service", "the service image must stay the default (last) target"
    checked = 0
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if not isinstance(build, dict) or build.get("dockerfile") != "deploy/docker/service.Dockerfile":
            continue
        checked += 1
        target = build.get("target", "service")
        assert target in stages, f"{name}: no stage {target!r} in the Dockerfile"
        uses_testkit = "aria_connector_testkit" in " ".join(map(str, svc.get("command") or []))
        if uses_testkit:
            assert target == "simulator", f"{name} runs the test kit from a {target} image"
            assert "simulator" in svc["image"], f"{name}: the simulator image must not be tagged as a service's"
        else:
            assert target == "service", f"{name}: only the test kit's commands run from the {target} image"
            assert "SERVICE" in build.get("args", {}), f"{name}: a service image needs its SERVICE build arg"
    assert checked >= 6
