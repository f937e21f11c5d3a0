"""Public marketplace API: browse, search and read the integration catalog (any user role)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.runtime import Runtime, get_runtime

from ..http import NOT_FOUND, NOT_MODIFIED, UNAUTHORIZED, cached_json, problem_example, query_model, \
    query_parameters, storable_key, validation
from ..deps import CatalogDeps
from . import service
from .cache import current_view
from .query import DIMENSIONS, QUALITY_TIERS, SORTS, QualityTier

router = APIRouter(prefix="/v1", tags=["catalog"])

# --- response models (documentation; bodies are built by the service) -------------------


class IntegrationSummary(BaseModel):
    key: str
    name: str
    vendor: str
    product: str | None
    category: str
    description: str
    logo_url: str | None
    version: str
    pricing_model: str | None
    is_official: bool
    is_community: bool
    is_beta: bool
    is_deprecated: bool
    license_required: bool
    capabilities: list[str]
    data_types: list[str]
    auth_methods: list[str]
    supports_webhooks: bool
    installation_complexity: str | None
    quality_tier: QualityTier = Field(
        description="Earned in the connector conformance suite, never declared by the connector: gold > silver > "
                    "bronze; unrated has not passed bronze's criteria. The detail's `quality_criteria` says which "
                    "criteria passed.")
    average_rating: float
    review_count: int
    install_count: int
    last_updated: datetime
    installed: bool = Field(description="Installed in the caller's organization.")


class IntegrationPage(BaseModel):
    items: list[IntegrationSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    limit: int
    sort: str = Field(description="Sort applied (relevance without `q` falls back to installs).")


class PushAction(BaseModel):
    name: str
    kind: str = Field(description="send_event, create_ticket, update_ticket or add_comment.")
    input: str | None = Field(description="Contract entity type the action takes (or 'ticket').")
    description: str | None


class ConfigurationRequirement(BaseModel):
    field: str
    type: str
    title: str
    description: str | None
    required: bool
    secret: bool = Field(description="Stored in Vault by the installer, never in the catalog or logs.")
    format: str | None = None
    enum: list[Any] | None = None
    default: Any = None


class ReviewsSummary(BaseModel):
    average_rating: float
    review_count: int
    distribution: dict[str, int] = Field(description="Reviews per rating, keys '1' to '5'.")
    verified_count: int = Field(description="Reviews from organizations with a live installation.")
    would_recommend_pct: float | None = Field(description="Of the reviews that answered.")
    ease_of_setup: float | None = Field(description="Average sub-score, 1–5.")
    documentation_quality: float | None
    support_quality: float | None


class UsageStats(BaseModel):
    window_days: int
    active_installations: int = Field(description="Installations that ran a sync in the window.")
    calls_per_day: float | None = Field(description="Sync runs per installation per active day.")
    sync_interval_minutes: float | None = Field(description="Typical sync cadence: 1440 / calls_per_day.")
    average_sync_duration_ms: float | None = Field(description="Of successful runs.")
    records_synced_per_day: float | None
    error_rate: float | None = Field(description="Failed runs / runs.")
    success_rate_pct: float | None
    average_setup_time_s: float | None = Field(
        description="Average seconds from installed to first enabled (all time, by when the events happened).")
    setup_installations: int = Field(description="Installations that completed setup: what the average is over.")


class IntegrationDetail(IntegrationSummary):
    documentation_url: str | None
    support_url: str | None
    minimum_platform_version: str | None
    streams: list[str]
    config_schema: dict[str, Any]
    secret_fields: list[str]
    api_rate_limits: dict[str, Any]
    configuration_requirements: list[ConfigurationRequirement]
    removed_from_registry_at: datetime | None
    created_at: datetime
    quality_criteria: dict[str, Literal["pass", "fail", "n/a"]] = Field(
        description="Conformance criterion → outcome behind `quality_tier` (n/a: the connector lacks the capability).")
    key_features: list[str] = Field(description="What the connector does, a line each (manifest).")
    required_permissions: list[str] = Field(
        description="Vendor roles or API scopes the credential needs, in the vendor's words (manifest).")
    setup_minutes: int | None = Field(
        description="Expected minutes from the vendor console to a first sync (manifest); the measured "
                    "average is usage_stats.average_setup_time_s.")
    push_actions: list[PushAction] = Field(description="Outbound actions: what ARIA can send to the vendor.")
    reviews_summary: ReviewsSummary
    usage_stats: UsageStats = Field(description="From the daily usage rollups of every organization's installations, "
                                       "and setup times from their lifecycle events.")


class FacetValue(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    total: int = Field(description="Integrations matching every filter.")
    category: list[FacetValue]
    capability: list[FacetValue]
    data_type: list[FacetValue]
    auth_method: list[FacetValue]
    pricing_model: list[FacetValue]
    quality_tier: list[FacetValue] = Field(description="Best tier first (not by count).")


# --- examples --------------------------------------------------------------------------

SUMMARY_EXAMPLE = {
    "key": "crowdstrike_falcon", "name": "CrowdStrike Falcon", "vendor": "CrowdStrike",
    "product": "Falcon Insight XDR", "category": "edr",
    "description": "Pulls Falcon alerts (as risks) and managed hosts (as assets).", "logo_url": None,
    "version": "1.0.0", "pricing_model": "vendor_license", "is_official": True, "is_community": False,
    "is_beta": False, "is_deprecated": False, "license_required": True,
    "capabilities": ["health_check", "incremental", "sync", "test_connection"], "data_types": ["asset", "risk"],
    "auth_methods": ["oauth2_client_credentials"], "supports_webhooks": False, "installation_complexity": "low",
    "quality_tier": "silver", "average_rating": 0.0, "review_count": 0, "install_count": 42,
    "last_updated": "2026-11-26T06:20:00+00:00",
    "installed": True,
}
_DETAIL_EXAMPLE = {
    **SUMMARY_EXAMPLE, "average_rating": 4.5, "review_count": 2, "documentation_url": "https://developer.crowdstrike.com/",
    "support_url": "https://supportportal.crowdstrike.com/", "minimum_platform_version": None,
    "streams": ["alerts", "hosts"],
    "config_schema": {"type": "object", "required": ["base_url", "client_id", "client_secret"],
                      "properties": {"base_url": {"type": "string", "format": "uri"},
                                     "client_id": {"type": "string"},
                                     "client_secret": {"type": "string", "x-secret": True}}},
    "secret_fields": ["client_secret"], "api_rate_limits": {"requests_per_minute": 6000},
    "configuration_requirements": [
        {"field": "base_url", "type": "string", "title": "API base URL", "description": None, "required": True,
         "secret": False, "format": "uri", "default": "https://api.crowdstrike.com"},
        {"field": "client_secret", "type": "string", "title": "API client secret", "description": None,
         "required": True, "secret": True},
    ],
    "removed_from_registry_at": None, "created_at": "2026-11-26T06:20:00+00:00",
    "quality_criteria": {"auth": "pass", "error_classification": "pass", "health": "pass", "incremental": "pass",
                         "ingest": "pass", "manifest": "pass", "preview": "pass", "push": "n/a",
                         "rate_limits": "pass", "replay": "pass", "webhooks": "n/a"},
    "key_features": ["Falcon detections and incidents as ARIA risks", "Managed hosts as assets, kept current",
                     "Incremental sync on the alert's update time"],
    "required_permissions": ["API client scope Alerts: Read", "API client scope Hosts: Read"],
    "setup_minutes": 10, "push_actions": [],
    "reviews_summary": {"average_rating": 4.5, "review_count": 2, "distribution": {"1": 0, "2": 0, "3": 0, "4": 1,
                                                                                  "5": 1},
                        "verified_count": 1, "would_recommend_pct": 100.0, "ease_of_setup": 4.5,
                        "documentation_quality": 4.0, "support_quality": None},
    "usage_stats": {"window_days": 30, "active_installations": 12, "calls_per_day": 24.0,
                    "sync_interval_minutes": 60.0, "average_sync_duration_ms": 5400.0,
                    "records_synced_per_day": 1800.0, "error_rate": 0.01, "success_rate_pct": 99.0,
                    "average_setup_time_s": 842.5, "setup_installations": 40},
}


_QUERY_VALIDATION = validation("query.limit", "Input should be less than or equal to 100")
_BAD_FILTER = {400: problem_example(400, "unknown_filter_value", "Unknown filter value",
                                    "category has no value 'edrr'", parameter="category",
                                    allowed=["edr", "siem"])}

# --- query parameters ------------------------------------------------------------------


class FilterParams(BaseModel):
    """Query parameters shared by the list and the facets (read by query_model: one validation)."""

    q: str | None = Field(None, max_length=200, description="Search text: full-text (word prefixes) on name, "
                          "vendor, product and description, plus trigram similarity for typos.",
                          examples=["crowdstrik"])
    category: list[str] = Field([], description="Any of these categories (repeat or comma-separate).",
                                examples=[["edr"]])
    capability: list[str] = Field([], description="Has all of these capabilities.", examples=[["sync"]])
    data_type: list[str] = Field([], description="Produces all of these data types.", examples=[["asset"]])
    auth_method: list[str] = Field([], description="Supports all of these auth methods.")
    pricing_model: list[str] = Field([], description="Any of these pricing models.")
    quality_tier: list[str] = Field([], description=f"Any of these earned quality tiers: {', '.join(QUALITY_TIERS)}.",
                                    examples=[["gold"]])
    official: bool | None = Field(None, description="Only official (true) or only non-official (false).")
    community: bool | None = None
    beta: bool | None = None
    installed: bool | None = Field(None, description="Installed in your organization (true) or not (false).")
    include_deprecated: bool = Field(False, description="Also list deprecated / retired integrations.")

    def query_args(self) -> dict[str, Any]:
        """Keyword arguments of service.parse_query (its `sort` aside)."""
        return {"q": self.q, "values": {d: getattr(self, d) for d in DIMENSIONS}, "official": self.official,
                "community": self.community, "beta": self.beta, "installed": self.installed,
                "include_deprecated": self.include_deprecated}


class ListParams(FilterParams):
    sort: str | None = Field(None, description=f"One of: {', '.join(SORTS)}.")
    cursor: str | None = Field(None, max_length=1000, description="`next_cursor` of the previous page.")
    limit: int = Field(20, ge=1, le=100)


_LISTS = frozenset(DIMENSIONS)


# --- endpoints -------------------------------------------------------------------------


@router.get(
    "/integrations", response_model=IntegrationPage, summary="Search and browse the integration catalog",
    description="Filters combine with AND. `sort`: relevance (default when `q` is given), name (default "
                "otherwise), installs, rating, updated. Keyset pagination: follow `next_cursor`; a cursor only "
                "continues the search that issued it. Unknown parameters or filter values, a bad sort or a "
                "malformed cursor answer 400 problem+json. ETag / If-None-Match supported.",
    responses={200: {"content": {"application/json": {"example": {
        "items": [SUMMARY_EXAMPLE], "next_cursor": "eyJ2IjoxLCJmIjoiNGQ3YiIsImEiOjQyLCJrIjoiY3Jvd2RzdHJpa2VfZmFsY29uIn0",
        "limit": 20, "sort": "relevance"}}}},
        **NOT_MODIFIED, **_BAD_FILTER, **UNAUTHORIZED, **_QUERY_VALIDATION},
    openapi_extra={"parameters": query_parameters(ListParams)},
)
async def list_integrations(
    request: Request, rt: Runtime = Depends(get_runtime), caller: Principal = Depends(require_role("viewer")),
) -> Response:
    params = query_model(request, ListParams, lists=_LISTS)
    view = await current_view(rt.pool, rt.deps_of(CatalogDeps))
    query = await service.parse_query(view=view, sort=params.sort, **params.query_args())
    return cached_json(request, await service.search(view=view, org_id=caller.org_id, query=query,
                                                     cursor=params.cursor, limit=params.limit))


@router.get(
    "/integrations/facets", response_model=Facets, summary="Counts per category, capability, quality tier and more",
    description="Takes the list's filters. Each dimension is counted with every filter except its own, so the "
                "counts show what choosing another value would give (disjunctive facets); `total` applies all.",
    responses={200: {"content": {"application/json": {"example": {
        "total": 1, "category": [{"value": "edr", "count": 1}], "capability": [{"value": "sync", "count": 1}],
        "data_type": [{"value": "asset", "count": 1}], "auth_method": [{"value": "oauth2_client_credentials",
                                                                         "count": 1}],
        "pricing_model": [{"value": "vendor_license", "count": 1}], "quality_tier": [{"value": "silver", "count": 1}]}}}},
        **NOT_MODIFIED, **_BAD_FILTER, **UNAUTHORIZED, **_QUERY_VALIDATION},
    openapi_extra={"parameters": query_parameters(FilterParams)},
)
async def integration_facets(
    request: Request, rt: Runtime = Depends(get_runtime), caller: Principal = Depends(require_role("viewer")),
) -> Response:
    params = query_model(request, FilterParams, lists=_LISTS)
    view = await current_view(rt.pool, rt.deps_of(CatalogDeps))
    query = await service.parse_query(view=view, sort=None, **params.query_args())
    return cached_json(request, await service.facets(view=view, org_id=caller.org_id, query=query))


@router.get(
    "/integrations/{key}", response_model=IntegrationDetail, summary="One integration, with its setup requirements",
    dependencies=[Depends(storable_key)],
    description="Everything the catalog knows about one integration, including the configuration fields the "
                "install wizard asks for (derived from its config schema; secret fields are flagged), a reviews "
                "summary (average, count, distribution 1–5), usage stats over the last 30 days (sync runs per "
                "day, cadence, average sync duration, from the usage rollups) and the average setup time "
                "(installed → first enabled, with the number of installations it is averaged over). Deprecated integrations are still "
                "readable. ETag / If-None-Match supported.",
    responses={200: {"content": {"application/json": {"example": _DETAIL_EXAMPLE}}}, **NOT_MODIFIED,
               **NOT_FOUND, **UNAUTHORIZED, **validation("path.key", "Field required")},
)
async def get_integration(
    request: Request, key: str, rt: Runtime = Depends(get_runtime),
    caller: Principal = Depends(require_role("viewer")),
) -> Response:
    return cached_json(request, await service.get_integration(pool=rt.pool, org_id=caller.org_id, key=key))
