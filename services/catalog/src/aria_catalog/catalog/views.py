"""Public marketplace API: browse, search and read the integration catalog (any user role)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from aria_platform.auth import Principal, require_role
from aria_platform.problems import MEDIA_TYPE, Problem
from aria_platform.runtime import Runtime, get_runtime

from . import service
from .query import SORTS

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


# --- examples --------------------------------------------------------------------------

_SUMMARY_EXAMPLE = {
    "key": "crowdstrike_falcon", "name": "CrowdStrike Falcon", "vendor": "CrowdStrike",
    "product": "Falcon Insight XDR", "category": "edr",
    "description": "Pulls Falcon alerts (as risks) and managed hosts (as assets).", "logo_url": None,
    "version": "1.0.0", "pricing_model": "vendor_license", "is_official": True, "is_community": False,
    "is_beta": False, "is_deprecated": False, "license_required": True,
    "capabilities": ["health_check", "incremental", "sync", "test_connection"], "data_types": ["asset", "risk"],
    "auth_methods": ["oauth2_client_credentials"], "supports_webhooks": False, "installation_complexity": "low",
    "average_rating": 0.0, "review_count": 0, "install_count": 42, "last_updated": "2026-11-26T06:20:00+00:00",
    "installed": True,
}
_DETAIL_EXAMPLE = {
    **_SUMMARY_EXAMPLE, "documentation_url": "https://developer.crowdstrike.com/",
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
}


def _problem_example(status: int, code: str, title: str, detail: str, **extra) -> dict:
    return {"description": title, "content": {MEDIA_TYPE: {"example": {
        "type": f"https://docs.aria.example/problems/{code}", "title": title, "status": status, "code": code,
        "instance": "/v1/integrations", "detail": detail, **extra}}}}


_NOT_MODIFIED = {304: {"description": "Not modified: If-None-Match matched the current ETag (no body)."}}
_UNAUTHORIZED = {401: _problem_example(401, "missing_token", "Authentication required",
                                       "send Authorization: Bearer <token>")}
_BAD_FILTER = {400: _problem_example(400, "unknown_filter_value", "Unknown filter value",
                                     "category has no value 'edrr'", parameter="category",
                                     allowed=["edr", "siem"])}

# --- helpers ---------------------------------------------------------------------------

_FILTER_PARAMS = {"q", "category", "capability", "data_type", "auth_method", "pricing_model", "official",
                  "community", "beta", "installed", "include_deprecated"}
_LIST_PARAMS = _FILTER_PARAMS | {"sort", "cursor", "limit"}


def _reject_unknown_params(request: Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise Problem(400, "unknown_parameter", "Unknown query parameter",
                      f"this endpoint has no parameter {unknown[0]!r}", parameter=unknown[0],
                      allowed=sorted(allowed))


def _if_none_match(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def _cached_json(request: Request, body: dict[str, Any]) -> Response:
    """JSON with a strong ETag of the exact bytes; 304 when the client already holds them."""
    payload = orjson.dumps(body)
    etag = '"' + hashlib.sha256(payload).hexdigest()[:32] + '"'
    # Bodies depend on the caller's organization (installed flags): private, revalidate every time.
    headers = {"ETag": etag, "Cache-Control": "private, no-cache", "Vary": "Authorization"}
    if _if_none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(payload, media_type="application/json", headers=headers)


class _Filters:
    """Query parameters shared by the list and the facets."""

    def __init__(
        self,
        q: str | None = Query(None, max_length=200, description="Search text: full-text (word prefixes) on name, "
                              "vendor, product and description, plus trigram similarity for typos.",
                              examples=["crowdstrik"]),
        category: list[str] = Query([], description="Any of these categories (repeat or comma-separate).",
                                    examples=["edr"]),
        capability: list[str] = Query([], description="Has all of these capabilities.", examples=["sync"]),
        data_type: list[str] = Query([], description="Produces all of these data types.", examples=["asset"]),
        auth_method: list[str] = Query([], description="Supports all of these auth methods."),
        pricing_model: list[str] = Query([], description="Any of these pricing models."),
        official: bool | None = Query(None, description="Only official (true) or only non-official (false)."),
        community: bool | None = Query(None),
        beta: bool | None = Query(None),
        installed: bool | None = Query(None, description="Installed in your organization (true) or not (false)."),
        include_deprecated: bool = Query(False, description="Also list deprecated / retired integrations."),
    ):
        self.q = q
        self.values = {"category": category, "capability": capability, "data_type": data_type,
                       "auth_method": auth_method, "pricing_model": pricing_model}
        self.flags = {"official": official, "community": community, "beta": beta, "installed": installed,
                      "include_deprecated": include_deprecated}


# --- endpoints -------------------------------------------------------------------------


@router.get(
    "/integrations", response_model=IntegrationPage, summary="Search and browse the integration catalog",
    description="Filters combine with AND. `sort`: relevance (default when `q` is given), name (default "
                "otherwise), installs, rating, updated. Keyset pagination: follow `next_cursor`; a cursor only "
                "continues the search that issued it. Unknown parameters or filter values, a bad sort or a "
                "malformed cursor answer 400 problem+json. ETag / If-None-Match supported.",
    responses={200: {"content": {"application/json": {"example": {
        "items": [_SUMMARY_EXAMPLE], "next_cursor": "eyJ2IjoxLCJmIjoiNGQ3YiIsImEiOjQyLCJrIjoiY3Jvd2RzdHJpa2VfZmFsY29uIn0",
        "limit": 20, "sort": "relevance"}}}},
        **_NOT_MODIFIED, **_BAD_FILTER, **_UNAUTHORIZED},
)
async def list_integrations(
    request: Request,
    filters: _Filters = Depends(),
    sort: str | None = Query(None, description=f"One of: {', '.join(SORTS)}."),
    cursor: str | None = Query(None, max_length=1000, description="`next_cursor` of the previous page."),
    limit: int = Query(20, ge=1, le=100),
    rt: Runtime = Depends(get_runtime),
    caller: Principal = Depends(require_role("viewer")),
) -> Response:
    _reject_unknown_params(request, _LIST_PARAMS)
    query = await service.parse_query(pool=rt.pool, q=filters.q, values=filters.values, sort=sort, **filters.flags)
    body = await service.search(pool=rt.pool, org_id=caller.org_id, query=query, cursor=cursor, limit=limit)
    return _cached_json(request, body)


@router.get(
    "/integrations/facets", response_model=Facets, summary="Counts per category, capability and more",
    description="Takes the list's filters. Each dimension is counted with every filter except its own, so the "
                "counts show what choosing another value would give (disjunctive facets); `total` applies all.",
    responses={200: {"content": {"application/json": {"example": {
        "total": 1, "category": [{"value": "edr", "count": 1}], "capability": [{"value": "sync", "count": 1}],
        "data_type": [{"value": "asset", "count": 1}], "auth_method": [{"value": "oauth2_client_credentials",
                                                                         "count": 1}],
        "pricing_model": [{"value": "vendor_license", "count": 1}]}}}},
        **_NOT_MODIFIED, **_BAD_FILTER, **_UNAUTHORIZED},
)
async def integration_facets(
    request: Request, filters: _Filters = Depends(), rt: Runtime = Depends(get_runtime),
    caller: Principal = Depends(require_role("viewer")),
) -> Response:
    _reject_unknown_params(request, _FILTER_PARAMS)
    query = await service.parse_query(pool=rt.pool, q=filters.q, values=filters.values, sort=None, **filters.flags)
    return _cached_json(request, await service.facets(pool=rt.pool, org_id=caller.org_id, query=query))


@router.get(
    "/integrations/{key}", response_model=IntegrationDetail, summary="One integration, with its setup requirements",
    description="Everything the catalog knows about one integration, including the configuration fields the "
                "install wizard asks for (derived from its config schema; secret fields are flagged). Deprecated "
                "integrations are still readable. ETag / If-None-Match supported.",
    responses={200: {"content": {"application/json": {"example": _DETAIL_EXAMPLE}}}, **_NOT_MODIFIED,
               404: _problem_example(404, "integration_not_found", "Integration not found",
                                     "no integration with key 'nope'"),
               **_UNAUTHORIZED},
)
async def get_integration(
    request: Request, key: str, rt: Runtime = Depends(get_runtime),
    caller: Principal = Depends(require_role("viewer")),
) -> Response:
    return _cached_json(request, await service.get_integration(pool=rt.pool, org_id=caller.org_id, key=key))
