"""Every event model. Each class names its event type and topic; the registry below lists them."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from . import topics
from .envelope import Envelope, EventPayload

SyncFrequency = Literal["realtime", "hourly", "daily", "weekly", "manual"]
SyncType = Literal["full", "incremental", "realtime", "manual"]
Severity = Literal["info", "low", "medium", "high", "critical"]
# A vendor's time as published: always with its UTC offset, so no subscriber guesses a zone. A
# connector declares how the vendor writes it (ISO 8601, epoch, naive text in a named zone).
VendorTime = AwareDatetime


# --- installation lifecycle (published by installer) -----------------------------------


class InstallationEvent(EventPayload):
    topic: ClassVar[str] = topics.INSTALLATION_LIFECYCLE.name

    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str
    revision: int = Field(ge=1, description="Installation revision after this change; orders events.")
    actor: str = Field(description="User or service that made the change.")

    def partition_key(self) -> str:
        return str(self.installation_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.installation_id}:{self.revision}"


class InstallationInstalled(InstallationEvent):
    event_type: ClassVar[str] = "installation.installed"
    demo: bool = Field(default=False, description="A sandbox installation against the connector's simulator "
                                                  "(Try demo): not a real install (the catalog does not count it).")


class InstallationConfigured(InstallationEvent):
    event_type: ClassVar[str] = "installation.configured"
    config_version: int
    config_hash: str
    settings: dict[str, Any] = Field(description="Non-secret settings only.")
    credential_ref: str | None
    webhook_credential_ref: str | None = Field(
        default=None, description="Reference of the installation's own webhook signing secret (credential "
                                  "'webhook_signing' in vault-gateway); preferred over the connector credential "
                                  "when verifying webhooks.")


class InstallationEnabled(InstallationEvent):
    event_type: ClassVar[str] = "installation.enabled"
    config_version: int
    settings: dict[str, Any]
    credential_ref: str | None
    sync_frequency: SyncFrequency
    auto_sync: bool = Field(default=True, description="False: sync only when asked, whatever the frequency.")
    webhook_credential_ref: str | None = Field(default=None, description="As in installation.configured.")


class InstallationDisabled(InstallationEvent):
    event_type: ClassVar[str] = "installation.disabled"


class InstallationUninstalled(InstallationEvent):
    event_type: ClassVar[str] = "installation.uninstalled"


class InstallationMappingsChanged(InstallationEvent):
    """The installation's whole set of data mappings after an admin changed it (a snapshot, so the
    newest revision is all a consumer needs). Before the first such event an installation uses the
    connector's default mappings."""

    event_type: ClassVar[str] = "installation.mappings_changed"
    mappings: list[dict[str, Any]] = Field(
        description="Each as the installer's mappings API shows it (source_type, target_entity, external_id, "
                    "field_mappings, attributes, transformation_rules, filter_rules, priority, active, origin); "
                    "the connector SDK's data_mappings module defines how a set applies.")


# --- credentials (published by vault-gateway) ------------------------------------------


class CredentialEvent(EventPayload):
    topic: ClassVar[str] = topics.CREDENTIAL_LIFECYCLE.name

    installation_id: uuid.UUID
    org_id: uuid.UUID
    credential_ref: str

    def partition_key(self) -> str:
        return str(self.installation_id)


class CredentialStored(CredentialEvent):
    event_type: ClassVar[str] = "credential.stored"
    version: int
    kind: str = Field(description="What the credential is for, e.g. 'connector' or 'webhook_signing'.")

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.credential_ref}:{self.version}"


class CredentialShredded(CredentialEvent):
    event_type: ClassVar[str] = "credential.shredded"

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.credential_ref}"


# --- sync jobs (requested by installer, run by sync-runner) ----------------------------


class SyncEvent(EventPayload):
    topic: ClassVar[str] = topics.SYNC_JOBS.name

    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str

    def partition_key(self) -> str:
        return str(self.installation_id)


class SyncRequested(SyncEvent):
    topic: ClassVar[str] = topics.SYNC_REQUESTS.name
    event_type: ClassVar[str] = "sync.requested"
    request_id: uuid.UUID
    sync_type: SyncType
    requested_by: str
    config_version: int
    settings: dict[str, Any] = Field(description="Non-secret connector settings.")
    credential_ref: str | None
    mappings: list[dict[str, Any]] | None = Field(
        default=None, description="The installation's data mappings when the sync was asked for (as in "
                                  "installation.mappings_changed), so the job maps with what the requester saw; "
                                  "None: the newest set sync-runner holds.")

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.request_id}"


class SyncJobEvent(SyncEvent):
    """An event about one sync job: each of its kinds happens once per job, unless a subclass says otherwise."""

    job_id: uuid.UUID

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.job_id}"


class SyncStarted(SyncJobEvent):
    event_type: ClassVar[str] = "sync.started"
    sync_type: SyncType


class SyncProgress(SyncJobEvent):
    event_type: ClassVar[str] = "sync.progress"
    stream: str
    processed_records: int
    failed_records: int

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.job_id}:{self.stream}:{self.processed_records}"


class SyncCompleted(SyncJobEvent):
    event_type: ClassVar[str] = "sync.completed"
    processed_records: int
    published_events: int
    failed_records: int
    duration_ms: int
    entity_counts: dict[str, int] = Field(
        default_factory=dict, description="Events the job published per entity type (risk, asset…), "
                                          "including those of attempts before this outcome.")


class SyncFailed(SyncJobEvent):
    event_type: ClassVar[str] = "sync.failed"
    error_class: Literal["authentication", "permission", "transient", "permanent", "configuration", "internal"]
    error_message: str
    entity_counts: dict[str, int] = Field(
        default_factory=dict, description="Events the job published per entity type (risk, asset…), "
                                          "published before it failed stay published.")


class SyncCancelled(SyncJobEvent):
    """A job stopped on request at a batch boundary: what was published before it stays published."""

    event_type: ClassVar[str] = "sync.cancelled"
    processed_records: int
    published_events: int
    cancelled_by: str
    entity_counts: dict[str, int] = Field(
        default_factory=dict, description="Events the job published per entity type (risk, asset…), "
                                          "published before it stopped stay published.")


# --- health and webhooks ---------------------------------------------------------------


class IntegrationHealthChanged(EventPayload):
    topic: ClassVar[str] = topics.INTEGRATION_HEALTH.name
    event_type: ClassVar[str] = "integration.health_changed"

    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str
    status: Literal["healthy", "degraded", "down"]
    checked_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)

    def partition_key(self) -> str:
        return str(self.installation_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.installation_id}:{self.checked_at.isoformat()}"


class WebhookReceived(EventPayload):
    topic: ClassVar[str] = topics.WEBHOOKS.name
    event_type: ClassVar[str] = "webhook.received"

    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str
    delivery_id: str = Field(description="Vendor delivery id, or 'sha256:<hash of body>' when none is sent.")
    payload_sha256: str
    event_count: int
    received_at: datetime

    def partition_key(self) -> str:
        return str(self.installation_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.installation_id}:{self.delivery_id}"


# --- domain entities (published by sync-runner and webhook-ingest) ---------------------


class Provenance(BaseModel):
    """Where an entity came from, so an auditor can trace it to the vendor response."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    installation_id: uuid.UUID
    integration_key: str
    connector_version: str
    stream: str
    external_id: str
    raw_sha256: str = Field(description="SHA-256 of the vendor record as received (canonical JSON).")
    sync_job_id: uuid.UUID | None = None
    webhook_delivery_id: str | None = None
    cursor_from: str | None = None
    cursor_to: str | None = None


class DomainEntity(EventPayload):
    entity_type: ClassVar[str]

    entity_id: uuid.UUID
    org_id: uuid.UUID
    provenance: Provenance
    attributes: dict[str, Any] = Field(default_factory=dict, description="Vendor fields kept as-is.")

    def partition_key(self) -> str:
        return str(self.entity_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.entity_id}:{self.provenance.raw_sha256}"


class Risk(DomainEntity):
    topic: ClassVar[str] = topics.RISKS.name
    event_type: ClassVar[str] = "risk.observed"
    entity_type: ClassVar[str] = "risk"

    title: str
    description: str | None = None
    severity: Severity
    score: int | None = Field(default=None, ge=0, le=100)
    status: Literal["open", "in_progress", "resolved", "suppressed"]
    category: str | None = None
    asset_external_id: str | None = None
    first_seen: VendorTime | None = None
    last_seen: VendorTime | None = None


class Asset(DomainEntity):
    topic: ClassVar[str] = topics.ASSETS.name
    event_type: ClassVar[str] = "asset.observed"
    entity_type: ClassVar[str] = "asset"

    name: str
    asset_type: Literal["host", "user", "cloud_resource", "application", "network_device", "web_application",
                        "repository", "container_image", "other"]
    hostname: str | None = None
    fqdn: str | None = Field(default=None, description="Fully qualified domain name, as the vendor reports it.")
    ip_addresses: list[str] = Field(default_factory=list)
    mac_addresses: list[str] = Field(default_factory=list)
    cloud_instance_id: str | None = Field(
        default=None, description="The cloud provider's instance id (EC2 i-…, Azure VM id, GCE id), to correlate across vendors.")
    agent_id: str | None = Field(default=None, description="The vendor's own agent or sensor id on this asset.")

    @field_validator("mac_addresses")
    @classmethod
    def _one_mac_format(cls, macs: list[str]) -> list[str]:
        """Vendors write 00-50-56-A1-2B-3C, 0050.56a1.2b3c or 005056A12B3C; subscribers correlate hosts
        across vendors on one form, lowercase and colon-separated. Other values are kept as sent."""
        out: list[str] = []
        for mac in macs:
            digits = re.sub(r"[-:.\s]", "", mac)
            if len(digits) == 12 and all(c in "0123456789abcdefABCDEF" for c in digits):
                mac = ":".join(digits[i:i + 2] for i in range(0, 12, 2)).lower()
            if mac not in out:
                out.append(mac)
        return out
    os: str | None = None
    os_version: str | None = None
    status: str | None = None
    first_seen: VendorTime | None = None
    last_seen: VendorTime | None = None


class Vulnerability(DomainEntity):
    topic: ClassVar[str] = topics.VULNERABILITIES.name
    event_type: ClassVar[str] = "vulnerability.observed"
    entity_type: ClassVar[str] = "vulnerability"

    title: str
    severity: Severity
    cve_ids: list[str] = Field(default_factory=list)
    cvss_score: float | None = Field(default=None, ge=0, le=10)
    status: Literal["open", "fixed", "reopened", "accepted"]
    asset_external_id: str | None = None
    first_found: VendorTime | None = None
    last_found: VendorTime | None = None


class Indicator(DomainEntity):
    topic: ClassVar[str] = topics.INDICATORS.name
    event_type: ClassVar[str] = "indicator.observed"
    entity_type: ClassVar[str] = "indicator"

    indicator_type: Literal["ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "email", "other"]
    value: str
    severity: Severity
    confidence: int | None = Field(default=None, ge=0, le=100)
    first_seen: VendorTime | None = None
    last_seen: VendorTime | None = None


class Alert(DomainEntity):
    topic: ClassVar[str] = topics.ALERTS.name
    event_type: ClassVar[str] = "alert.observed"
    entity_type: ClassVar[str] = "alert"

    title: str
    severity: Severity
    status: Literal["new", "in_progress", "resolved", "closed"]
    detected_at: VendorTime | None = None
    asset_external_id: str | None = None
    tactic: str | None = None
    technique: str | None = None


class Ticket(DomainEntity):
    """A ticket in an ITSM tool, created by a push action or read back by a sync."""

    topic: ClassVar[str] = topics.TICKETS.name
    event_type: ClassVar[str] = "ticket.observed"
    entity_type: ClassVar[str] = "ticket"

    vendor_ticket_id: str
    key: str | None = Field(default=None, description="Human-facing key, e.g. 'SEC-42' or 'INC0010001'.")
    title: str
    status: Literal["open", "in_progress", "resolved", "closed"]
    vendor_status: str | None = None
    priority: str | None = None
    url: str | None = None
    linked_entity_id: uuid.UUID | None = Field(default=None, description="The risk/alert the ticket tracks.")
    created_at: VendorTime | None = None
    updated_at: VendorTime | None = None


# --- platform-wide and failure events -------------------------------------------------

PLATFORM_ORG = uuid.UUID(int=0)
"""org_id of envelopes about the platform itself (catalog changes), not about one organization."""


class CatalogEntryChanged(EventPayload):
    topic: ClassVar[str] = topics.CATALOG_CHANGES.name
    event_type: ClassVar[str] = "catalog.entry_changed"

    integration_key: str
    change: Literal["added", "version_changed", "updated", "removed", "restored"]
    version: str
    previous_version: str | None = None
    change_id: int = Field(ge=1, description="The catalog's history row of this change: unique per change, so "
                                             "the same change of the same version happening again (removed → "
                                             "restored → removed) is a new event, not a duplicate.")

    def partition_key(self) -> str:
        return self.integration_key

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.integration_key}:{self.change}:{self.version}:{self.change_id}"


class DeadLetter(EventPayload):
    """A record or message that could not be processed, kept with the reason instead of lost."""

    topic: ClassVar[str] = topics.DEAD_LETTERS.name
    event_type: ClassVar[str] = "deadletter.recorded"

    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str
    origin: str = Field(description="Where it failed, e.g. 'sync:alerts' or 'push:create_ticket'.")
    external_id: str | None = None
    reason: str
    job_id: uuid.UUID | None = None
    raw_sha256: str | None = Field(default=None, description="Hash of the record; the record itself is not kept.")
    failed_at: datetime

    def partition_key(self) -> str:
        return str(self.installation_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.installation_id}:{self.origin}:{self.external_id}:{self.raw_sha256}"


# --- on-demand push actions (requested by installer, run by sync-runner) -----------------


class ActionEvent(EventPayload):
    """About one run of a connector push action that a person asked for (one run id, one vendor request)."""

    run_id: uuid.UUID = Field(description="The installer's run id: also the key the run is executed once by.")
    installation_id: uuid.UUID
    org_id: uuid.UUID
    integration_key: str
    action: str = Field(description="The push action's name in the connector's manifest.")

    def partition_key(self) -> str:
        return str(self.installation_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.run_id}"


class ActionRequested(ActionEvent):
    topic: ClassVar[str] = topics.ACTION_REQUESTS.name
    event_type: ClassVar[str] = "action.requested"

    requested_by: str
    config_version: int
    settings: dict[str, Any] = Field(description="Non-secret connector settings of the installation.")
    credential_ref: str | None
    entity_id: uuid.UUID | None = Field(
        default=None, description="Entity actions: the entity (risk, alert, asset...) to act on, as the platform "
                                  "last saw it on its topic; absent when `event` carries it.")
    event: dict[str, Any] | None = Field(default=None, description="Entity actions: the contract event itself "
                                                                   "(its payload, validated by the installer).")
    vendor_id: str | None = Field(default=None, description="Ticket actions: the vendor's id of the ticket.")
    changes: dict[str, Any] = Field(default_factory=dict, description="Fields to change (title, description, "
                                                                      "severity, status, assignee, labels).")
    comment: str | None = None
    rule_id: uuid.UUID | None = Field(default=None, description="Set when an automation rule asked for the run.")
    rule_execution_id: uuid.UUID | None = Field(
        default=None, description="The rule's execution (one per rule, entity and change) this run is an attempt of.")


class ActionCompleted(ActionEvent):
    topic: ClassVar[str] = topics.ACTION_RUNS.name
    event_type: ClassVar[str] = "action.completed"

    status: Literal["succeeded", "failed", "unknown"] = Field(
        description="unknown: the request may have reached a vendor that cannot de-duplicate it; not re-sent.")
    vendor_id: str | None = None
    vendor_url: str | None = None
    vendor_status: Literal["sent", "created", "updated", "duplicate"] | None = Field(
        default=None, description="What the vendor did; duplicate: an object made earlier for the same entity.")
    error_class: str | None = Field(default=None, description="authentication, permission, rate_limited, transient, "
                                                              "permanent, configuration or internal.")
    error_message: str | None = Field(default=None, description="In words; never a secret value.")
    entity_id: uuid.UUID | None = Field(default=None, description="The entity the action was run for, if any.")
    completed_at: datetime
    rule_id: uuid.UUID | None = Field(default=None, description="Set when an automation rule asked for the run.")
    rule_execution_id: uuid.UUID | None = None


# --- automation rules (defined in the installer, executed by sync-runner) ----------------

RuleEntityType = Literal["risk", "alert", "vulnerability", "asset", "indicator"]


class RuleTrigger(BaseModel):
    """Which entity events start a rule: one entity topic, and filters that all hold (ANDed)."""

    model_config = ConfigDict(extra="forbid")

    entity_type: RuleEntityType
    min_severity: Severity | None = Field(default=None, description="At least this severe (types with a severity).")
    statuses: list[str] = Field(default_factory=list, max_length=10, description="One of these statuses.")
    categories: list[str] = Field(
        default_factory=list, max_length=50,
        description="One of these: a risk's category, an alert's tactic, an asset's asset_type, an indicator's "
                    "indicator_type.")
    source_integration_keys: list[str] = Field(default_factory=list, max_length=50,
                                               description="Only entities from these integrations.")
    source_installation_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50,
                                                     description="Only entities from these installations.")
    conditions: list[dict[str, Any]] = Field(
        default_factory=list, max_length=20,
        description="Data-mapping filter rules on the event (path, op, value), e.g. a tag: "
                    "{'path': 'attributes.tags', 'op': 'contains', 'value': 'prod'}.")
    from_push_integrations: bool = Field(
        default=False, description="Also match entities from integrations with push actions (a ticketing tool's "
                                   "tickets synced back as risks). Off: a rule cannot make two ticketing tools feed "
                                   "each other.")


class RuleAction(BaseModel):
    """What a rule does for each matching entity: one push action of one installation."""

    model_config = ConfigDict(extra="forbid")

    installation_id: uuid.UUID = Field(description="The target installation (of the rule's organization).")
    action: str = Field(min_length=1, max_length=100, pattern=r"^[a-z][a-z0-9_]*$")
    input: dict[str, Any] = Field(
        default_factory=dict, max_length=20,
        description="Action input field (dotted: 'changes.status') -> data-mapping field spec read from the event "
                    "(a path, or {path, const, map, default...}). Empty: {'entity_id': 'entity_id'}.")


class RuleChanged(EventPayload):
    """A rule's newest version: created, changed, enabled or disabled, or deleted."""

    topic: ClassVar[str] = topics.AUTOMATION_RULES.name
    event_type: ClassVar[str] = "automation_rule.changed"

    rule_id: uuid.UUID
    org_id: uuid.UUID
    version: int = Field(ge=1)
    name: str
    enabled: bool
    deleted: bool = False
    trigger: RuleTrigger
    action: RuleAction
    changed_by: str
    changed_at: datetime = Field(description="When this version was saved: it acts on entity changes published "
                                             "from then on.")

    def partition_key(self) -> str:
        return str(self.rule_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.rule_id}:{self.version}"


# --- outbound webhooks (published by webhook-ingest) ---------------------------------------


class OutboundEndpointDisabled(EventPayload):
    """An organization's outbound webhook endpoint was turned off because every delivery to it
    failed for longer than the service allows (a notice for the organization; an admin turns it
    back on). Carries the host only: a URL's path or query may hold a token."""

    topic: ClassVar[str] = topics.OUTBOUND_ENDPOINTS.name
    event_type: ClassVar[str] = "outbound_endpoint.disabled"

    endpoint_id: uuid.UUID
    org_id: uuid.UUID
    host: str
    reason: str
    failing_since: datetime
    disabled_at: datetime

    def partition_key(self) -> str:
        return str(self.endpoint_id)

    def dedup_key(self) -> str:
        return f"{self.event_type}:{self.endpoint_id}:{self.disabled_at.isoformat()}"


EVENT_MODELS: tuple[type[EventPayload], ...] = (
    InstallationInstalled, InstallationConfigured, InstallationEnabled, InstallationDisabled,
    InstallationUninstalled, InstallationMappingsChanged, CredentialStored, CredentialShredded, SyncRequested,
    SyncStarted, SyncProgress, SyncCompleted, SyncFailed, SyncCancelled, IntegrationHealthChanged, WebhookReceived,
    Risk, Asset, Vulnerability, Indicator, Alert, Ticket, CatalogEntryChanged, DeadLetter, ActionRequested,
    ActionCompleted, RuleChanged,
    OutboundEndpointDisabled,
)
DOMAIN_MODELS: tuple[type[DomainEntity], ...] = (Risk, Asset, Vulnerability, Indicator, Alert, Ticket)


def model_for(event_type: str) -> type[EventPayload]:
    for model in EVENT_MODELS:
        if model.event_type == event_type:
            return model
    raise KeyError(event_type)


# --- envelopes typed per topic ------------------------------------------------------------

P = TypeVar("P", bound=EventPayload)


class Event(Envelope, Generic[P]):
    """An envelope whose `data` is validated as the payload model `P` of its event type."""

    data: P

    @model_validator(mode="before")
    @classmethod
    def _only_its_type(cls, value: Any) -> Any:
        # Refuse another type's envelope before validating any field, so a topic's union below
        # tries its members cheaply.
        model = cls.model_fields["data"].annotation
        if isinstance(value, dict) and isinstance(model, type) and value.get("type") != model.event_type:
            raise ValueError(f"not a {model.event_type} envelope")
        return value


# What a subscriber of each topic receives: the topic's typed envelopes, tried in order, and last
# the untyped Envelope, which takes an event type the subscriber does not know yet (a compatible
# change, docs/subscribers.md) and a payload that fails its model, so that a handler skips these as
# it did before instead of failing to decode them and being redelivered them for ever.
_IN_ORDER = Field(union_mode="left_to_right")
InstallationLifecycleEvents = Annotated[
    Event[InstallationInstalled] | Event[InstallationConfigured] | Event[InstallationEnabled]
    | Event[InstallationDisabled] | Event[InstallationUninstalled] | Event[InstallationMappingsChanged]
    | Envelope, _IN_ORDER]
CredentialLifecycleEvents = Annotated[Event[CredentialStored] | Event[CredentialShredded] | Envelope, _IN_ORDER]
SyncRequestEvents = Annotated[Event[SyncRequested] | Envelope, _IN_ORDER]
SyncJobEvents = Annotated[
    Event[SyncStarted] | Event[SyncProgress] | Event[SyncCompleted] | Event[SyncFailed] | Event[SyncCancelled]
    | Envelope, _IN_ORDER]
IntegrationHealthEvents = Annotated[Event[IntegrationHealthChanged] | Envelope, _IN_ORDER]
WebhookEvents = Annotated[Event[WebhookReceived] | Envelope, _IN_ORDER]
RiskEvents = Annotated[Event[Risk] | Envelope, _IN_ORDER]
AssetEvents = Annotated[Event[Asset] | Envelope, _IN_ORDER]
VulnerabilityEvents = Annotated[Event[Vulnerability] | Envelope, _IN_ORDER]
IndicatorEvents = Annotated[Event[Indicator] | Envelope, _IN_ORDER]
AlertEvents = Annotated[Event[Alert] | Envelope, _IN_ORDER]
TicketEvents = Annotated[Event[Ticket] | Envelope, _IN_ORDER]
CatalogChangeEvents = Annotated[Event[CatalogEntryChanged] | Envelope, _IN_ORDER]
DeadLetterEvents = Annotated[Event[DeadLetter] | Envelope, _IN_ORDER]
ActionRequestEvents = Annotated[Event[ActionRequested] | Envelope, _IN_ORDER]
ActionRunEvents = Annotated[Event[ActionCompleted] | Envelope, _IN_ORDER]
OutboundEndpointEvents = Annotated[Event[OutboundEndpointDisabled] | Envelope, _IN_ORDER]
RuleEvents = Annotated[Event[RuleChanged] | Envelope, _IN_ORDER]
TOPIC_EVENTS: dict[str, Any] = {
    topics.INSTALLATION_LIFECYCLE.name: InstallationLifecycleEvents,
    topics.CREDENTIAL_LIFECYCLE.name: CredentialLifecycleEvents,
    topics.SYNC_REQUESTS.name: SyncRequestEvents, topics.SYNC_JOBS.name: SyncJobEvents,
    topics.INTEGRATION_HEALTH.name: IntegrationHealthEvents, topics.WEBHOOKS.name: WebhookEvents,
    topics.RISKS.name: RiskEvents, topics.ASSETS.name: AssetEvents, topics.VULNERABILITIES.name: VulnerabilityEvents,
    topics.INDICATORS.name: IndicatorEvents, topics.ALERTS.name: AlertEvents, topics.TICKETS.name: TicketEvents,
    topics.CATALOG_CHANGES.name: CatalogChangeEvents, topics.DEAD_LETTERS.name: DeadLetterEvents,
    topics.ACTION_REQUESTS.name: ActionRequestEvents, topics.ACTION_RUNS.name: ActionRunEvents,
    topics.OUTBOUND_ENDPOINTS.name: OutboundEndpointEvents,
    topics.AUTOMATION_RULES.name: RuleEvents,
}
