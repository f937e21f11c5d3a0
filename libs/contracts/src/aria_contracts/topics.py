"""The topic registry: every Kafka topic, declared once, created from here."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

DAY_MS = 24 * 60 * 60 * 1000


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    key: str
    partitions: int
    cleanup_policy: Literal["delete", "compact"]
    retention_ms: int
    description: str

    def config(self) -> dict[str, str]:
        """Broker-side topic configs."""
        cfg = {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}
        if self.cleanup_policy == "compact":
            # Entity topics hold current state forever; compaction keeps the newest per key.
            cfg["min.compaction.lag.ms"] = str(60_000)
        return cfg


def entity_topic(kind: str, description: str) -> Topic:
    """A normalized entity topic: each entity's current state, compacted by its deterministic id, kept forever."""
    return Topic(name=f"aria.entity.{kind}", key="entity_id", partitions=3, cleanup_policy="compact",
                 retention_ms=-1, description=description)


INSTALLATION_LIFECYCLE = Topic(
    name="aria.installation.lifecycle", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=30 * DAY_MS,
    description="Installed, configured, enabled, disabled, uninstalled.",
)
CREDENTIAL_LIFECYCLE = Topic(
    name="aria.credential.lifecycle", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=30 * DAY_MS,
    description="Credential stored, rotated, shredded (metadata only, never values).",
)
SYNC_REQUESTS = Topic(
    name="aria.sync.requested", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=7 * DAY_MS,
    description="Requests to run a sync for one installation.",
)
SYNC_JOBS = Topic(
    name="aria.sync.jobs", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=30 * DAY_MS,
    description="Sync job lifecycle and progress.",
)
INTEGRATION_HEALTH = Topic(
    name="aria.integration.health", key="installation_id", partitions=3,
    cleanup_policy="compact", retention_ms=-1,
    description="Latest health of every installation.",
)
WEBHOOKS = Topic(
    name="aria.webhook.received", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=7 * DAY_MS,
    description="Verified, deduplicated vendor webhook deliveries (metadata).",
)
RISKS = entity_topic("risk", "Normalized risks, keyed by deterministic entity id.")
ASSETS = entity_topic("asset", "Normalized assets (devices, hosts, accounts).")
VULNERABILITIES = entity_topic("vulnerability", "Normalized vulnerabilities.")
INDICATORS = entity_topic("indicator", "Normalized threat indicators.")
ALERTS = entity_topic("alert", "Normalized vendor alerts and detections.")
TICKETS = entity_topic("ticket", "Tickets in ITSM tools (Jira, ServiceNow, ...), with their status synced back.")
CATALOG_CHANGES = Topic(
    name="aria.catalog.changes", key="integration_key", partitions=1, cleanup_policy="compact",
    retention_ms=-1, description="Integrations added, updated or removed from the catalog.",
)
OUTBOUND_ENDPOINTS = Topic(
    name="aria.outbound.endpoints", key="endpoint_id", partitions=3, cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    description="Notices about an organization's outbound webhook endpoints (disabled after sustained failure).",
)
DEAD_LETTERS = Topic(
    name="aria.deadletter", key="installation_id", partitions=3, cleanup_policy="delete",
    retention_ms=14 * DAY_MS, description="Records or messages that could not be processed, with the reason.",
)

ACTION_REQUESTS = Topic(
    name="aria.action.requested", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=7 * DAY_MS,
    description="Push actions a person asked to run on one installation (commands to sync-runner).",
)
ACTION_RUNS = Topic(
    name="aria.action.runs", key="installation_id", partitions=3,
    cleanup_policy="delete", retention_ms=30 * DAY_MS,
    description="Outcomes of on-demand push actions (vendor id, status, error class).",
)
AUTOMATION_RULES = Topic(
    name="aria.automation.rules", key="rule_id", partitions=1, cleanup_policy="compact", retention_ms=-1,
    description="Every automation rule's newest version (deleted ones as a deleted version), for its executors.",
)

REGISTRY: tuple[Topic, ...] = (
    INSTALLATION_LIFECYCLE, CREDENTIAL_LIFECYCLE, SYNC_REQUESTS, SYNC_JOBS, INTEGRATION_HEALTH,
    WEBHOOKS, RISKS, ASSETS, VULNERABILITIES, INDICATORS, ALERTS, TICKETS, CATALOG_CHANGES, DEAD_LETTERS,
    ACTION_REQUESTS, ACTION_RUNS, OUTBOUND_ENDPOINTS, AUTOMATION_RULES,
)


def by_name(name: str) -> Topic:
    for topic in REGISTRY:
        if topic.name == name:
            return topic
    raise KeyError(name)
