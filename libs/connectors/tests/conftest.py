"""Fixtures of the connector test-suite: one simulator per connector (real HTTP), reset per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.sdk import ConnectorPlugin, InstallationContext, RuntimeOptions
from aria_connectors.sdk.templates import render
from aria_connector_testkit import fixtures as conformance_fixtures, simulator_module
from aria_connector_testkit.testing import SimulatorControl, SimulatorServer

PLUGINS = registry.discover(strict=True)
KEYS = sorted(PLUGINS)

# Tiny backoff so 5xx retries are fast; Retry-After values from simulators are honoured as sent.
# The documented client-side budgets (Qualys: 300 calls an hour) are lifted: simulators serve far
# more, and test_client_budget_avoids_a_429_storm sets one matching the simulator's.
NO_BUDGET = {"requests_per_minute": None, "requests_per_hour": None, "requests_per_day": None, "burst": None}
FAST = dict(max_retries=2, backoff_base_seconds=0.01, backoff_max_seconds=0.05, max_retry_after_seconds=5,
            rate_limits=NO_BUDGET)


@dataclass
class Harness:
    key: str
    plugin: ConnectorPlugin
    fixtures: dict[str, Any]
    http: httpx.AsyncClient
    url: str | None = None
    control: SimulatorControl | None = None
    instances: list = field(default_factory=list)
    default_context: InstallationContext = field(init=False)

    def __post_init__(self) -> None:
        self.default_context = InstallationContext(org_id=uuid.uuid4(), installation_id=uuid.uuid4(),
                                                   integration_key=self.key)

    def has(self, capability: str) -> bool:
        return capability in self.plugin.manifest.capabilities

    def require(self, capability: str) -> None:
        if not self.has(capability):
            pytest.skip(f"{self.key} does not declare capability {capability!r}")

    def config(self, **overrides: Any) -> dict[str, Any]:
        cfg = render(self.fixtures.get("config", {}), {"simulator_url": self.url or ""})
        return {**cfg, **overrides}

    def context(self) -> InstallationContext:
        return InstallationContext(org_id=uuid.uuid4(), installation_id=uuid.uuid4(), integration_key=self.key)

    def create(self, config: dict[str, Any] | None = None, *, context: InstallationContext | None = None,
               **options: Any):
        settings, secrets = self.plugin.split_config(self.config() if config is None else config)
        runtime = {**FAST, **(self.fixtures.get("runtime") or {}), **options}
        inst = self.plugin.create(context or self.default_context, settings, secrets, self.http,
                                  options=RuntimeOptions(**runtime))
        self.instances.append(inst)
        return inst


@pytest.fixture(scope="session")
def simulator_servers():
    started: dict[str, tuple[SimulatorServer, SimulatorControl]] = {}

    def get(plugin: ConnectorPlugin):
        if plugin.key not in started:
            module = simulator_module(plugin)
            if module is None or not hasattr(module, "create_app"):
                return None
            options = (conformance_fixtures(plugin) or {}).get("simulator", {}).get("options", {})
            server = SimulatorServer(module.create_app(**options)).start()
            started[plugin.key] = (server, SimulatorControl(server.url))
        return started[plugin.key]

    yield get
    for server, control in started.values():
        control.close()
        server.stop()


@pytest.fixture(params=KEYS)
async def harness(request, simulator_servers):
    plugin = PLUGINS[request.param]
    fixtures = conformance_fixtures(plugin)
    if fixtures is None:
        pytest.fail(f"{plugin.key} ships no conformance.yaml")
    async with httpx.AsyncClient(timeout=10) as http:
        h = Harness(plugin.key, plugin, fixtures, http)
        sim = simulator_servers(plugin)
        if sim is not None:
            server, control = sim
            control.reset()
            h.url, h.control = server.url, control
        yield h
        for inst in h.instances:
            await inst.close()
        if h.control is not None:
            h.control.clear_faults()


# --- quality tiers: record per-connector outcomes of the tagged conformance tests --------------
#
# Each conformance test carries @pytest.mark.quality("<criterion>"). The hooks below record, for
# every connector (the `harness` parameter), "passed" / "failed" / "skipped" per test; the last
# test of the session (test_quality.py) turns them into tiers and compares them with the
# committed aria_connectors/quality.json (ARIA_WRITE_QUALITY=1 rewrites it first).

QUALITY_OUTCOMES: dict[tuple[str, str], str] = {}  # (test function, connector key) -> outcome
QUALITY_DESELECTED: list[str] = []


def pytest_configure(config):
    config.addinivalue_line("markers", "quality(criterion): conformance criterion this test demonstrates "
                                       "(see aria_connector_testkit.quality)")


def pytest_collection_modifyitems(session, config, items):
    # the quality check must see every other test's outcome: run it last
    last = [i for i in items if i.path.name == "test_quality.py"]
    items[:] = [i for i in items if i.path.name != "test_quality.py"] + last


def pytest_deselected(items):
    QUALITY_DESELECTED.extend(i.nodeid for i in items if i.get_closest_marker("quality"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    callspec = getattr(item, "callspec", None)
    if item.get_closest_marker("quality") is None or callspec is None or "harness" not in callspec.params:
        return
    key = (item.originalname, callspec.params["harness"])
    if report.failed:
        QUALITY_OUTCOMES[key] = "failed"
    elif report.skipped and QUALITY_OUTCOMES.get(key) != "failed":
        QUALITY_OUTCOMES[key] = "skipped"
    elif report.when == "call" and report.passed and key not in QUALITY_OUTCOMES:
        QUALITY_OUTCOMES[key] = "passed"


@pytest.fixture
def quality_results():
    """(outcomes, deselected quality-tagged node ids) recorded so far in this session."""
    return QUALITY_OUTCOMES, QUALITY_DESELECTED
