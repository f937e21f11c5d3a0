"""ARIA event contracts: the published interface between services and to subscribers."""

from .envelope import Envelope, EventPayload
from .ids import entity_id

__all__ = ["Envelope", "EventPayload", "entity_id"]
