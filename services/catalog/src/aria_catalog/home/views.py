"""Homepage API (any user role)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from ..catalog.views import SUMMARY_EXAMPLE, FacetValue, IntegrationSummary
from ..collections.views import COLLECTION_EXAMPLE, Collection
from ..http import NOT_MODIFIED, UNAUTHORIZED, cached_json, ok_example
from . import service

router = APIRouter(prefix="/v1", tags=["home"])


class Home(BaseModel):
    featured_collections: list[Collection] = Field(description="Featured collections with their tool counts.")
    top_rated: list[IntegrationSummary] = Field(
        description=f"Up to {service.TOP_RATED} reviewed integrations, best average rating first (more reviews "
                    "break ties), with the caller's installed state.")
    categories: list[FacetValue] = Field(description="Browse by category: listed integrations per category.")


@router.get(
    "/home", response_model=Home, summary="Marketplace homepage data",
    description="Everything the homepage shows in one call. ETag / If-None-Match supported.",
    responses={200: ok_example({"featured_collections": [COLLECTION_EXAMPLE],
                                "top_rated": [{**SUMMARY_EXAMPLE, "average_rating": 4.8, "review_count": 12}],
                                "categories": [{"value": "edr", "count": 3}, {"value": "itsm", "count": 5}]}),
               **NOT_MODIFIED, **UNAUTHORIZED},
)
async def home(request: Request, rt: Runtime = Depends(get_runtime),
               caller: Principal = Depends(require_role("viewer"))) -> Response:
    return cached_json(request, await service.home(pool=rt.pool, org_id=caller.org_id))
