"""What a caller sends to run a push action, the JSON Schema that says so per action, and the checks.

The schema is derived from the manifest's action (its kind and input) and the contract models, and
the same rules are checked on every run, so the console's generated form and the API agree:

* ticket actions (update_ticket, add_comment): ``vendor_id`` of the ticket, plus ``changes``
  (update) or ``comment`` (comment);
* entity actions (create_ticket, send_event, update_status, isolate_host, release_host): either
  ``entity_id``, an entity of the action's input type the platform has seen, or ``event``, the
  contract event itself; update_status also needs ``changes.status`` (and may carry a
  ``comment``), host actions may carry a ``comment``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aria_connectors.sdk.manifest import ON_VENDOR_OBJECT, PushAction
from aria_contracts.events import DOMAIN_MODELS, DomainEntity

Role = Literal["operator", "admin"]
_MODELS = {m.entity_type: m for m in DOMAIN_MODELS}


class TicketChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Literal["info", "low", "medium", "high", "critical"] | None = None
    status: str | None = Field(default=None, min_length=1, max_length=40,
                               description="The platform's status word (e.g. resolved); mapped by the connector.")
    assignee: str | None = Field(default=None, max_length=200)
    labels: list[str] | None = Field(default=None, max_length=50)

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ActionInput(BaseModel):
    """Everything any action may take; which fields one action needs is in its input schema."""

    model_config = ConfigDict(extra="forbid")

    entity_id: uuid.UUID | None = Field(default=None, description="Entity actions: an entity the platform has seen.")
    event: dict[str, Any] | None = Field(default=None, description="Entity actions: the contract event itself.")
    vendor_id: str | None = Field(default=None, min_length=1, max_length=200,
                                  description="Ticket actions: the vendor's id of the ticket (e.g. SEC-42).")
    changes: TicketChanges | None = None
    comment: str | None = Field(default=None, min_length=1, max_length=10_000)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


@dataclass(frozen=True)
class Checked:
    """A run's input after the checks: what goes to sync-runner."""

    entity_id: uuid.UUID | None
    event: dict[str, Any] | None
    vendor_id: str | None
    changes: dict[str, Any]
    comment: str | None


def min_role(spec: PushAction) -> Role:
    return "admin" if spec.destructive else "operator"


def _takes_comment(spec: PushAction) -> bool:
    return spec.kind == "add_comment" or spec.kind in ON_VENDOR_OBJECT


def _status_schema(spec: PushAction) -> dict[str, Any]:
    model = _MODELS.get(spec.input)
    prop = model.model_json_schema()["properties"].get("status") if model else None
    return {k: v for k, v in (prop or {"type": "string"}).items() if k in ("type", "enum")} | {"title": "Status"}


def input_schema(spec: PushAction) -> dict[str, Any]:
    """The JSON Schema of what a caller sends to run this action (draft 2020-12)."""
    comment = {"type": "string", "minLength": 1, "maxLength": 10_000, "title": "Comment"}
    if spec.input == "ticket":
        props: dict[str, Any] = {"vendor_id": {"type": "string", "minLength": 1, "maxLength": 200,
                                               "title": "Ticket id", "description": "The vendor's id of the ticket."}}
        if spec.kind == "update_ticket":
            changes = TicketChanges.model_json_schema()
            changes["minProperties"] = 1
            props["changes"] = changes
        if spec.kind == "add_comment":
            props["comment"] = comment
        return {"type": "object", "additionalProperties": False, "properties": props,
                "required": ["vendor_id", "changes" if spec.kind == "update_ticket" else "comment"]}
    model = _MODELS[spec.input]
    event = model.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**event.pop("$defs", {}), model.__name__: event}
    props = {"entity_id": {"type": "string", "format": "uuid", "title": f"{spec.input.capitalize()} id",
                           "description": f"A {spec.input} the platform has seen (its entity id)."},
             "event": {"$ref": f"#/$defs/{model.__name__}", "description": f"The {spec.input} event itself."}}
    required: list[str] = []
    if spec.kind == "update_status":
        props["changes"] = {"type": "object", "additionalProperties": False, "required": ["status"],
                            "properties": {"status": _status_schema(spec)}}
        required.append("changes")
    if _takes_comment(spec):
        props["comment"] = comment
    return {"type": "object", "additionalProperties": False, "properties": props, "required": required,
            "oneOf": [{"required": ["entity_id"]}, {"required": ["event"]}], "$defs": defs}


def check(spec: PushAction, body: ActionInput, *, org_id: uuid.UUID) -> tuple[Checked, list[dict[str, str]]]:
    """The run's input and the errors (field + message, never the value) that refuse it."""
    errors: list[dict[str, str]] = []

    def refuse(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    changes = body.changes.given() if body.changes is not None else {}
    event: dict[str, Any] | None = None
    if spec.input == "ticket":
        if body.vendor_id is None:
            refuse("vendor_id", "required: the ticket's id at the vendor")
        for name in ("entity_id", "event"):
            if getattr(body, name) is not None:
                refuse(name, f"not taken by {spec.kind} actions")
        if spec.kind == "update_ticket" and not changes:
            refuse("changes", "required: at least one field to change")
        if spec.kind == "add_comment":
            if body.comment is None:
                refuse("comment", "required")
            if changes:
                refuse("changes", "not taken by add_comment actions")
        if spec.kind == "update_ticket" and body.comment is not None:
            refuse("comment", "not taken by update_ticket actions")
    else:
        if (body.entity_id is None) == (body.event is None):
            refuse("entity_id", "give exactly one of entity_id and event")
        if body.vendor_id is not None:
            refuse("vendor_id", f"not taken by {spec.kind} actions (the entity names the vendor's object)")
        if body.event is not None:
            event = _check_event(spec, body.event, org_id=org_id, refuse=refuse)
        if spec.kind == "update_status":
            allowed = _status_schema(spec).get("enum")
            if "status" not in changes:
                refuse("changes.status", "required")
            elif allowed and changes["status"] not in allowed:
                refuse("changes.status", f"one of {', '.join(allowed)}")
            if set(changes) - {"status"}:
                refuse("changes", "only status is taken by update_status actions")
        elif changes:
            refuse("changes", f"not taken by {spec.kind} actions")
        if body.comment is not None and not _takes_comment(spec):
            refuse("comment", f"not taken by {spec.kind} actions")
    return Checked(entity_id=body.entity_id, event=event, vendor_id=body.vendor_id, changes=changes,
                   comment=body.comment), errors


def _check_event(spec: PushAction, data: dict[str, Any], *, org_id: uuid.UUID, refuse) -> dict[str, Any] | None:
    model: type[DomainEntity] = _MODELS[spec.input]
    try:
        entity = model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors()[:20]:
            refuse("event." + ".".join(str(p) for p in err["loc"]), err["msg"])
        return None
    if entity.org_id != org_id:
        refuse("event.org_id", "must be your organization")
        return None
    return entity.model_dump(mode="json")
