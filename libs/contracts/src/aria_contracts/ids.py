"""Deterministic ids: a re-synced or re-delivered record maps to the same entity id."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

# Fixed namespace so ids are stable across services, releases and machines.
ARIA_NAMESPACE = uuid.UUID("6f1d8a52-8f3e-4c0e-9a57-2f0b8e4d1c11")


def entity_id(*, org_id: uuid.UUID, integration_key: str, entity_type: str, external_id: str) -> uuid.UUID:
    """Id of a domain entity: org + integration + entity type + the vendor's external id."""
    return entity_ids(org_id=org_id, integration_key=integration_key, entity_type=entity_type)(external_id)


def entity_ids(*, org_id: uuid.UUID, integration_key: str, entity_type: str) -> Callable[[str], uuid.UUID]:
    """``entity_id`` of one org, integration and entity type, as a function of the external id: the
    UUIDv5 hash of the common prefix is taken once (a sync maps every record of a page with it)."""
    prefix = hashlib.sha1(ARIA_NAMESPACE.bytes + f"{org_id}|{integration_key}|{entity_type}|".encode(),
                          usedforsecurity=False)

    def of(external_id: str) -> uuid.UUID:
        digest = prefix.copy()
        digest.update(external_id.encode())
        return uuid.UUID(bytes=digest.digest()[:16], version=5)  # as uuid.uuid5 builds it
    return of
