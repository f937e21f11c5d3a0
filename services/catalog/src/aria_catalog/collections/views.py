"""Collections API: curated sets of integrations (any user role)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from ..catalog.views import SUMMARY_EXAMPLE, IntegrationSummary
from ..http import NOT_MODIFIED, UNAUTHORIZED, cached_json, ok_example, problem_example, validation
from . import service

router = APIRouter(prefix="/v1/collections", tags=["collections"])


class Collection(BaseModel):
    slug: str
    name: str
    description: str
    featured: bool
    tool_count: int = Field(description="Listed (catalogued, not deprecated) integrations in the collection.")


class CollectionDetail(Collection):
    integrations: list[IntegrationSummary] = Field(description="In the collection's order, with `installed`.")


COLLECTION_EXAMPLE = {"slug": "edr-suite", "name": "EDR Suite",
                      "description": "Endpoint detection and response: alerts as risks, managed hosts as assets.",
                      "featured": True, "tool_count": 3}


@router.get(
    "", response_model=list[Collection], summary="All collections",
    description="Featured first in the curated order. Collections come from the data file shipped with the "
                "service (`collections/collections.toml`). ETag / If-None-Match supported.",
    responses={200: ok_example([COLLECTION_EXAMPLE]), **NOT_MODIFIED, **UNAUTHORIZED},
)
async def list_collections(request: Request, rt: Runtime = Depends(get_runtime),
                           _caller: Principal = Depends(require_role("viewer"))) -> Response:
    return cached_json(request, await service.list_collections(pool=rt.pool))


@router.get(
    "/{slug}", response_model=CollectionDetail, summary="One collection with its integrations",
    description="Integrations in the collection's order with the caller's installed state; deprecated or not yet "
                "catalogued ones are left out. ETag / If-None-Match supported.",
    responses={200: ok_example({**COLLECTION_EXAMPLE, "integrations": [SUMMARY_EXAMPLE]}), **NOT_MODIFIED,
               404: problem_example(404, "collection_not_found", "Collection not found", "no collection 'nope'",
                                    instance="/v1/collections/nope"),
               **UNAUTHORIZED, **validation("path.slug", "Field required")},
)
async def get_collection(request: Request, slug: str, rt: Runtime = Depends(get_runtime),
                         caller: Principal = Depends(require_role("viewer"))) -> Response:
    return cached_json(request, await service.get_collection(pool=rt.pool, slug=slug, org_id=caller.org_id))
