"""Every service's HTTP surface, read from its OpenAPI document (built offline, nothing connects).

OWASP API2 (broken authentication) and API9 (improper inventory): a route answers without a
bearer token only when it is named below with the reason, every secured operation says so in its
document (security scheme, the role or service identities it takes, 401/403), and every error a
client can get is documented as problem+json.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from aria_platform.app import create_app

DUMMY = {"database_url": "postgresql://unused@127.0.0.1/unused", "jwt_secret": "offline-openapi-export"}

# (service, method, path) answering without a token, and why.
UNAUTHENTICATED = {
    ("*", "get", "/healthz"): "liveness probe",
    ("*", "get", "/readyz"): "readiness probe",
    ("*", "get", "/asyncapi.json"): "event documentation",
    ("installer", "post", "/v1/dev/sign-in"): "local mode only (ARIA_DEV_SIGNIN), mints a demo token",
    ("webhook-ingest", "post", "/v1/webhooks/{installation_id}"): "vendors sign deliveries instead",
}


def _documents() -> dict[str, dict]:
    from aria_catalog.main import define as catalog
    from aria_catalog.settings import CatalogSettings
    from aria_installer.main import define as installer
    from aria_installer.settings import InstallerSettings
    from aria_sync_runner.main import define as sync_runner
    from aria_sync_runner.settings import SyncRunnerSettings
    from aria_vault_gateway.main import define as vault_gateway
    from aria_vault_gateway.settings import VaultGatewaySettings
    from aria_webhook_ingest.main import define as webhook_ingest
    from aria_webhook_ingest.settings import WebhookIngestSettings

    services = {
        "catalog": (catalog, CatalogSettings(**DUMMY)),
        "installer": (installer, InstallerSettings(**DUMMY, dev_signin=True)),
        "sync-runner": (sync_runner, SyncRunnerSettings(**DUMMY)),
        "vault-gateway": (vault_gateway, VaultGatewaySettings(**DUMMY, vault_role_id="r", vault_secret_id="s")),
        "webhook-ingest": (webhook_ingest, WebhookIngestSettings(**DUMMY)),
    }
    return {name: create_app(dataclasses.replace(define(settings), kafka_routers=())).openapi()
            for name, (define, settings) in services.items()}


DOCUMENTS = _documents()
OPERATIONS = [(service, method, path, op) for service, doc in DOCUMENTS.items()
              for path, ops in doc["paths"].items() for method, op in ops.items()]


def test_only_the_named_routes_answer_without_a_token():
    open_routes = {(s, m, p) for s, m, p, op in OPERATIONS if "security" not in op}
    allowed = {(s, m, p) for s, m, p, _ in OPERATIONS
               if (s, m, p) in UNAUTHENTICATED or ("*", m, p) in UNAUTHENTICATED}
    assert open_routes == allowed, sorted(open_routes - allowed)


@pytest.mark.parametrize("service, method, path, op", [o for o in OPERATIONS if "security" in o[3]],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_a_secured_operation_documents_who_may_call_it(service, method, path, op):
    assert op["security"] == [{"bearerAuth": []}]
    access = op["x-aria-access"]
    if path.startswith("/internal/"):
        assert access.get("services"), "internal routes take service identities, never users"
    else:
        assert access.get("role") in ("viewer", "operator", "admin")
    for status in ("401", "403"):
        assert "application/problem+json" in op["responses"][status]["content"]


def test_every_error_is_documented_as_problem_json():
    for service, doc in DOCUMENTS.items():
        assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
        assert "HTTPValidationError" not in json.dumps(doc), f"{service} documents FastAPI's validation body"
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                for status, response in op["responses"].items():
                    if status == "default" or status.startswith(("4", "5")):
                        content = response.get("content", {})
                        assert "application/problem+json" in content, (service, method, path, status)
                        assert content["application/problem+json"]["schema"] == \
                            {"$ref": "#/components/schemas/Problem"}
