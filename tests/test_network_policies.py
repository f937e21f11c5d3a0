"""The Kubernetes network policies allow exactly the flows docs/security.md states.

Evaluates the policies of `deploy/k8s/base/network-policies.yaml` as Kubernetes does (a flow needs
an egress rule of the source and an ingress rule of the destination, each selecting the other;
a pod no policy of a direction selects is open in it) over the marketplace's pods and the
namespaces they meet.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

POLICIES = [d for d in yaml.safe_load_all(
    (Path(__file__).resolve().parents[1] / "deploy/k8s/base/network-policies.yaml").read_text()) if d]
PORTS = {"aria-catalog": 8001, "aria-installer": 8002, "aria-vault-gateway": 8003, "aria-sync-runner": 8004,
         "aria-webhook-ingest": 8005, "aria-console": 8080}
ARIA = "aria"


def pod(name: str, namespace: str = ARIA) -> dict:
    labels = {"app.kubernetes.io/name": name}
    if namespace == ARIA:
        labels["app.kubernetes.io/part-of"] = "aria-marketplace"
    return {"namespace": namespace, "labels": labels}


def selects(selector: dict | None, labels: dict) -> bool:
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        if expr["operator"] == "In" and labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def peer_matches(peer: dict, other: dict) -> bool:
    if "ipBlock" in peer:  # internet addresses: a pod or in-cluster namespace is never one of them
        return other["namespace"] == "internet"
    namespace_labels = {"kubernetes.io/metadata.name": other["namespace"]}
    if "namespaceSelector" in peer:
        return selects(peer["namespaceSelector"], namespace_labels) and selects(peer.get("podSelector"),
                                                                                other["labels"])
    return other["namespace"] == ARIA and selects(peer["podSelector"], other["labels"])


def port_matches(rule: dict, port: int, name: str | None) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") in (port, name) for p in ports)


def allowed(direction: str, subject: dict, other: dict, port: int) -> bool:
    if subject["namespace"] != ARIA:
        return True  # not ours: other namespaces' policies are theirs
    key = "ingress" if direction == "Ingress" else "egress"
    peers_key = "from" if key == "ingress" else "to"
    mine = [p for p in POLICIES if direction in p["spec"]["policyTypes"]
            and selects(p["spec"]["podSelector"], subject["labels"])]
    if not mine:
        return True
    port_name = "http" if key == "ingress" else None
    for policy in mine:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (peers is None or any(peer_matches(peer, other) for peer in peers)) \
                    and port_matches(rule, port, port_name):
                return True
    return False


def can_reach(source: dict, destination: dict, port: int) -> bool:
    return allowed("Egress", source, destination, port) and allowed("Ingress", destination, source, port)


SERVICES = list(PORTS)
EDGE = pod("ingress-nginx-controller", "ingress-nginx")
OPENBAO = pod("openbao", "vault")
INTERNET = {"namespace": "internet", "labels": {}}


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_edge_reaches_the_public_services(service):
    public = service in ("aria-catalog", "aria-installer", "aria-webhook-ingest", "aria-console")
    assert can_reach(EDGE, pod(service), PORTS[service]) == public


def test_only_the_credential_users_reach_vault_gateway():
    callers = {s for s in SERVICES if can_reach(pod(s), pod("aria-vault-gateway"), 8003)}
    assert callers == {"aria-installer", "aria-sync-runner", "aria-webhook-ingest"}


def test_only_vault_gateway_reaches_openbao():
    assert {s for s in SERVICES if can_reach(pod(s), OPENBAO, 8200)} == {"aria-vault-gateway"}


def test_only_the_installer_calls_sync_runner_and_only_connectors_leave_the_cluster():
    assert {s for s in SERVICES if can_reach(pod(s), pod("aria-sync-runner"), 8004)} == {"aria-installer"}
    assert {s for s in SERVICES if can_reach(pod(s), INTERNET, 443)} == {"aria-sync-runner", "aria-webhook-ingest"}


def test_only_the_installer_reads_webhook_deliveries_inside_the_cluster():
    assert {s for s in SERVICES if can_reach(pod(s), pod("aria-webhook-ingest"), 8005)} == {"aria-installer"}


def test_every_service_reaches_kafka_and_dns_and_prometheus_reads_metrics():
    for service in SERVICES:
        assert can_reach(pod(service), pod("kafka", "kafka"), 9092)
        assert can_reach(pod(service), {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}, 53)
        assert can_reach(pod("prometheus", "monitoring"), pod(service), PORTS[service])
        assert not can_reach(pod("anything", "default"), pod(service), PORTS[service])
