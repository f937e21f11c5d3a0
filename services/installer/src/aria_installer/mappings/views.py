"""Data mappings API. Viewers read; admins change (every change is in the activity log)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field, field_validator

from aria_connectors.sdk.data_mappings import FilterRule, TransformRule
from aria_connectors.sdk.manifest import ExternalId, FieldSpec
from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from . import service
from .defaults import field_mappings

router = APIRouter(prefix="/v1/installations", tags=["data mappings"])


class MappingIn(BaseModel):
    source_type: str = Field(min_length=1, max_length=100, examples=["alerts"],
                             description="A stream of the integration, or 'webhook.<payload type>'.")
    target_entity: str = Field(min_length=1, max_length=32, examples=["risk"],
                               description="Contract entity: risk, asset, vulnerability, indicator, alert, ticket.")
    external_id: ExternalId = Field(description="Record path of the vendor's id, or candidates tried in order, a list "
                                                "of paths being a composite key (as in connector manifests).")
    fields: dict[str, FieldSpec | str] = Field(min_length=1, max_length=100,
                                               description="Target field → record path, or a field spec as in "
                                                           "connector manifests (path/paths/const, map, default...).")
    attributes: dict[str, str] = Field(default_factory=dict, max_length=100,
                                       description="Extra attribute name → record path.")
    transformation_rules: list[TransformRule] = Field(default_factory=list, max_length=50)
    filter_rules: list[FilterRule] = Field(default_factory=list, max_length=50,
                                           description="Kept only when every rule holds.")
    priority: int = Field(default=100, ge=0, le=1000, description="Higher first among mappings of a source type.")
    active: bool = True

    def as_record(self) -> dict[str, Any]:
        return {"source_type": self.source_type, "target_entity": self.target_entity, "external_id": self.external_id,
                "field_mappings": field_mappings(self.fields),
                "attributes": self.attributes,
                "transformation_rules": [r.model_dump(mode="json") for r in self.transformation_rules],
                "filter_rules": [r.model_dump(mode="json") for r in self.filter_rules],
                "priority": self.priority, "active": self.active}


    @field_validator("external_id")
    @classmethod
    def _identity_paths(cls, value: ExternalId) -> ExternalId:
        paths = [value] if isinstance(value, str) else [p for c in value for p in ([c] if isinstance(c, str) else c)]
        if not paths or len(paths) > 20 or any(not p or len(p) > 200 for p in paths) or \
                any(isinstance(c, list) and not c for c in ([] if isinstance(value, str) else value)):
            raise ValueError("give one to 20 non-empty record paths of at most 200 characters")
        return value


class Mapping(BaseModel):
    id: uuid.UUID
    source_type: str
    target_entity: str
    external_id: ExternalId
    fields: dict[str, Any]
    attributes: dict[str, str]
    transformation_rules: list[dict[str, Any]]
    filter_rules: list[dict[str, Any]]
    priority: int
    active: bool
    origin: Literal["connector", "custom"] = Field(description="connector: the integration's default, unchanged.")
    created_by: str
    created_at: datetime
    updated_at: datetime


def _out(row) -> Mapping:
    return Mapping(**{k: row[k] for k in Mapping.model_fields if k != "fields"}, fields=row["field_mappings"])


@router.get("/{installation_id}/mappings", response_model=list[Mapping], summary="Data mappings of an installation")
async def list_mappings(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                        principal: Principal = Depends(require_role("viewer"))) -> list[Mapping]:
    return [_out(r) for r in await service.list_mappings(pool=rt.pool, principal=principal,
                                                         installation_id=installation_id)]


@router.post("/{installation_id}/mappings", status_code=201, response_model=Mapping, summary="Add a data mapping",
             responses={422: {"description": "Unknown source type or target entity, bad field or rule"}})
async def create_mapping(installation_id: uuid.UUID, body: MappingIn, rt: Runtime = Depends(get_runtime),
                         principal: Principal = Depends(require_role("admin"))) -> Mapping:
    return _out(await service.create_mapping(pool=rt.pool, principal=principal, installation_id=installation_id,
                                             mapping=body.as_record()))


@router.post("/{installation_id}/mappings/reset", response_model=list[Mapping],
             summary="Back to the integration's default mappings (custom ones are removed)")
async def reset_mappings(installation_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                         principal: Principal = Depends(require_role("admin"))) -> list[Mapping]:
    return [_out(r) for r in await service.reset_mappings(pool=rt.pool, principal=principal,
                                                          installation_id=installation_id)]


@router.get("/{installation_id}/mappings/{mapping_id}", response_model=Mapping, summary="One data mapping")
async def get_mapping(installation_id: uuid.UUID, mapping_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                      principal: Principal = Depends(require_role("viewer"))) -> Mapping:
    return _out(await service.get_mapping(pool=rt.pool, principal=principal, installation_id=installation_id,
                                          mapping_id=mapping_id))


@router.put("/{installation_id}/mappings/{mapping_id}", response_model=Mapping, summary="Replace a data mapping")
async def update_mapping(installation_id: uuid.UUID, mapping_id: uuid.UUID, body: MappingIn,
                         rt: Runtime = Depends(get_runtime),
                         principal: Principal = Depends(require_role("admin"))) -> Mapping:
    return _out(await service.update_mapping(pool=rt.pool, principal=principal, installation_id=installation_id,
                                             mapping_id=mapping_id, mapping=body.as_record()))


@router.delete("/{installation_id}/mappings/{mapping_id}", status_code=204, response_class=Response,
               summary="Delete a data mapping")
async def delete_mapping(installation_id: uuid.UUID, mapping_id: uuid.UUID, rt: Runtime = Depends(get_runtime),
                         principal: Principal = Depends(require_role("admin"))) -> None:
    await service.delete_mapping(pool=rt.pool, principal=principal, installation_id=installation_id,
                                 mapping_id=mapping_id)
