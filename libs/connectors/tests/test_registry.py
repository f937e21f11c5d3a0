"""Entry-point discovery, including a connector shipped by an outside distribution."""

from __future__ import annotations

import sys
import textwrap
import uuid

import httpx
import pytest

from aria_connectors import registry
from aria_connectors.sdk import ConnectorPlugin, DeclarativeConnector, InstallationContext

MANIFEST = """
key: outside_demo
name: Outside Demo
vendor: Outside Inc.
product: Demo
category: custom
description: A connector from a package that is not part of this repository.
version: 0.1.0
documentation_url: https://outside.example/docs
pricing_model: free
community: true
capabilities: [webhook]
data_types: [risk]
auth_methods: [hmac_signature]
config_schema:
  type: object
  required: [secret]
  properties:
    secret: {type: string, x-secret: true}
webhook:
  signature: {header: X-Sig, secret_field: secret, encoding: base64}
  payload:
    types:
      default:
        entity: risk
        external_id: id
        fields: {title: t, severity: {const: low}, status: {const: open}}
"""


def test_builtin_connectors_are_discovered():
    plugins = registry.discover(strict=True)
    assert {"crowdstrike_falcon", "generic_webhook"} <= set(plugins)
    assert registry.get("crowdstrike_falcon") is not None
    with pytest.raises(registry.UnknownConnector):
        registry.get("no_such_connector")


def test_plugins_hold_no_tenant_state():
    plugin = registry.get("crowdstrike_falcon")
    http = httpx.AsyncClient()
    ctx = lambda: InstallationContext(uuid.uuid4(), uuid.uuid4(), "crowdstrike_falcon")  # noqa: E731
    a = plugin.create(ctx(), {"base_url": "https://a.example", "client_id": "a"}, {"client_secret": "sa"}, http)
    b = plugin.create(ctx(), {"base_url": "https://b.example", "client_id": "b"}, {"client_secret": "sb"}, http)
    assert a is not b and a.api.auth is not b.api.auth
    assert a.api.base_url != b.api.base_url
    assert "sa" not in repr(a) and "sa" not in repr(plugin.__dict__)


def test_outside_distribution_entry_point_is_discovered(tmp_path, monkeypatch):
    pkg = tmp_path / "outside_connector_pkg"
    pkg.mkdir()
    (pkg / "manifest.yaml").write_text(MANIFEST)
    (pkg / "__init__.py").write_text(textwrap.dedent("""
        from aria_connectors.sdk import ConnectorPlugin, DeclarativeConnector

        class OutsideConnector(DeclarativeConnector):
            def transform_record(self, stream, record):
                return {**record, "t": record.get("t", "").upper()}

        connector = ConnectorPlugin.from_package(__name__, instance_class=OutsideConnector)
    """))
    dist = tmp_path / "outside_connector_pkg-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-connector-pkg\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[aria.connectors]\noutside_demo = outside_connector_pkg:connector\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    plugins = registry.discover(strict=True)
    assert "outside_demo" in plugins and "crowdstrike_falcon" in plugins
    plugin = registry.get("outside_demo")
    assert isinstance(plugin, ConnectorPlugin) and plugin.manifest.community
    inst = plugin.create(InstallationContext(uuid.uuid4(), uuid.uuid4(), "outside_demo"), {}, {"secret": "s"},
                         httpx.AsyncClient())
    assert isinstance(inst, DeclarativeConnector)
    [event] = inst.webhook_events({}, b'{"id": "1", "t": "hello"}', "d-1")
    assert event.title == "HELLO"
    monkeypatch.delitem(sys.modules, "outside_connector_pkg", raising=False)


def test_broken_entry_point_is_skipped_or_raised(tmp_path, monkeypatch):
    dist = tmp_path / "broken_pkg-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-pkg\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[aria.connectors]\nbroken = no_such_module_xyz:connector\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "broken" not in registry.discover()
    assert "crowdstrike_falcon" in registry.discover()
    with pytest.raises(registry.BrokenConnector):
        registry.discover(strict=True)
