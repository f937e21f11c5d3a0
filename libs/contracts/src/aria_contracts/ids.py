"""Deterministic ids: a re-synced or re-delivered record maps to the same entity id."""

from __future__ import annotations

import uuid

# Fixed namespace so ids are stable across services, releases and machines.
ARIA_NAMESPACE = uuid.UUID("6f1d8a52-8f3e-4c0e-9a57-2f0b8e4d1c11")


def entity_id(*, org_id: uuid.UUID, integration_key: str, entity_type: str, external_id: str) -> uuid.UUID:
    """Id of a domain entity: org + integration + entity type + the vendor's external id."""
    name = f"{org_id}|{integration_key}|{entity_type}|{external_id}"
    return uuid.uuid5(ARIA_NAMESPACE, name)
