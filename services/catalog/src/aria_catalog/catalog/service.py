"""Browse the catalog: search, filter, facet, paginate, and one entry with its setup requirements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, get_args

import asyncpg

from aria_platform.problems import Problem

from ..entity import JsonEntity, dumps
from ..installs import service as installs
from ..reviews import service as reviews
from ..usage import service as usage
from . import repo
from .cache import CatalogView
from .query import DIMENSIONS, QUALITY_TIERS, CatalogQuery, build_query, decode_cursor, encode_cursor

# Facet dimension → column (unnest: for array columns).
FACETS = {"category": "category", "capability": "unnest:capabilities", "data_type": "unnest:data_types",
          "auth_method": "unnest:auth_methods", "pricing_model": "pricing_model", "quality_tier": "quality_tier"}
# Facet values by count, most first; tiers best first instead (a scale, not a list of kinds).
_FACET_ORDER = {"quality_tier": lambda f: QUALITY_TIERS.index(f["value"])}


def _sdk_vocabulary() -> dict[str, set[str]]:
    """Values the connector SDK allows in manifests: valid filters even before a connector uses them."""
    try:
        from aria_connectors.sdk import manifest as m

        return {"category": set(get_args(m.Category)), "capability": set(get_args(m.Capability)),
                "data_type": set(get_args(m.DataType)), "auth_method": set(get_args(m.AuthType)),
                "pricing_model": set(get_args(m.PricingModel))}
    except Exception:  # the SDK may rename these; the catalog's own values still count
        return {}


# Plus the tiers a row can hold (migration 0009's check): every tier is a valid filter before one is earned.
_SDK_VOCABULARY = {**_sdk_vocabulary(), "quality_tier": set(QUALITY_TIERS)}


async def vocabulary(view: CatalogView) -> dict[str, set[str]]:
    async def compute() -> dict[str, set[str]]:
        present = await repo.vocabulary(view.pool)
        return {d: set(present[d]) | _SDK_VOCABULARY.get(d, set()) for d in DIMENSIONS}

    return await view.cached("vocabulary", compute)


async def parse_query(*, view: CatalogView, values: dict[str, list[str]], **params: Any) -> CatalogQuery:
    return build_query(values=values, vocabulary=await vocabulary(view), **params)


def summary_item(row: asyncpg.Record) -> dict[str, Any]:
    return dict(row)  # average_rating comes as a float (repo): JSON numbers without a conversion per row


def _org_part(query: CatalogQuery, org_id: uuid.UUID) -> uuid.UUID | None:
    """Only the installed filter makes the matching set depend on the caller's organization."""
    return org_id if query.installed is not None else None


async def _installed_keys(view: CatalogView, org_id: uuid.UUID) -> frozenset[str]:
    async def compute() -> frozenset[str]:
        return frozenset(await repo.installed_keys(view.pool, org_id=org_id))

    return await view.cached(("installed", org_id), compute)


@dataclass(frozen=True, slots=True)
class _Page:
    """A page as JSON without the caller's installed flags: what is cached across organizations.

    Bytes, not dicts: a page holds a fraction of the memory (a worker keeps thousands), the cycle
    collector never walks it, and a page with some organization's flags is one join."""

    keys: tuple[str, ...]
    items: tuple[bytes, ...]  # each item's JSON object without its closing brace
    tail: bytes  # `],` and the page's other fields

    def entity(self, installed: frozenset[str]) -> JsonEntity:
        flags = {True: b',"installed":true}', False: b',"installed":false}'}
        items = b",".join(item + flags[key in installed] for key, item in zip(self.keys, self.items))
        return JsonEntity.of_payload(b'{"items":[' + items + self.tail)


async def search(*, view: CatalogView, org_id: uuid.UUID, query: CatalogQuery, cursor: str | None,
                 limit: int) -> JsonEntity:
    """One page, encoded: cached per version, and per set of its items the caller's organization installed
    (most pages have none: every organization without installs on it shares one encoding)."""
    after = decode_cursor(query, cursor) if cursor else None

    async def encoded(keys: list[str]) -> dict[str, bytes]:
        return {r["key"]: dumps(summary_item(r))[:-1] for r in await repo.summaries(view.pool, keys=keys)}

    async def compute() -> _Page:
        rows = await repo.list_page(view.pool, q=query, org_id=org_id, after=after, limit=limit + 1)
        page, more = rows[:limit], len(rows) > limit
        next_cursor = encode_cursor(query, page[-1]["sort_value"], page[-1]["key"]) if more and page else None
        keys = tuple(r["key"] for r in page)
        # Which integrations, in which order, is the page's query; each one's JSON is shared by every
        # page it is on (cached per version like the pages, see cache.py).
        return _Page(keys=keys, items=tuple(await view.cached_items(keys, encoded)),
                     tail=b"]," + dumps({"next_cursor": next_cursor, "limit": limit, "sort": query.sort})[1:])

    page_key = ("page", query.fingerprint(), _org_part(query, org_id), cursor, limit)
    page: _Page = await view.cached(page_key, compute)
    on_page = (await _installed_keys(view, org_id)).intersection(page.keys)

    async def encode() -> JsonEntity:
        return page.entity(on_page)

    return await view.cached((page_key, on_page), encode)


async def facets(*, view: CatalogView, org_id: uuid.UUID, query: CatalogQuery) -> JsonEntity:
    async def compute() -> JsonEntity:
        rows = await repo.facet_counts(view.pool, q=query, org_id=org_id, dimensions=FACETS)
        out: dict[str, Any] = {"total": 0, **{d: [] for d in FACETS}}
        for row in rows:
            if row["dimension"] == "_total":
                out["total"] = row["count"]
            else:
                out[row["dimension"]].append({"value": row["value"], "count": row["count"]})
        for d in FACETS:
            out[d].sort(key=_FACET_ORDER.get(d, lambda f: (-f["count"], f["value"])))
        return JsonEntity.of(out)

    return await view.cached(("facets", query.fingerprint(), _org_part(query, org_id)), compute)


async def category_counts(*, pool: asyncpg.Pool, org_id: uuid.UUID) -> list[dict[str, Any]]:
    """The homepage's "Browse by category" numbers (listed integrations, deprecated left out)."""
    rows = await repo.facet_counts(pool, q=CatalogQuery(), org_id=org_id, dimensions={"category": "category"})
    counts = [{"value": r["value"], "count": r["count"]} for r in rows if r["dimension"] == "category"]
    return sorted(counts, key=lambda f: (-f["count"], f["value"]))


async def top_rated(*, pool: asyncpg.Pool, org_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
    return [summary_item(r) for r in await repo.top_rated(pool, org_id=org_id, limit=limit)]


def configuration_requirements(schema: dict[str, Any], secret_fields: list[str]) -> list[dict[str, Any]]:
    """One line per configuration field the install wizard must ask for (JSON Schema → form)."""
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    out = []
    for name, spec in props.items():
        spec = spec if isinstance(spec, dict) else {}
        secret = (name in secret_fields or bool(spec.get("x-secret")) or bool(spec.get("writeOnly"))
                  or spec.get("format") == "password")
        kind = spec.get("type", "string")
        field = {"field": name, "type": "/".join(kind) if isinstance(kind, list) else kind,
                 "title": spec.get("title") or name, "description": spec.get("description"),
                 "required": name in required, "secret": secret}
        if "format" in spec:
            field["format"] = spec["format"]
        if "enum" in spec:
            field["enum"] = spec["enum"]
        if "default" in spec and not secret:
            field["default"] = spec["default"]
        out.append(field)
    return out


async def get_integration(*, pool: asyncpg.Pool, org_id: uuid.UUID, key: str) -> dict[str, Any]:
    row = await repo.get_entry(pool, key=key, org_id=org_id)
    if row is None:
        raise Problem(404, "integration_not_found", "Integration not found", f"no integration with key {key!r}")
    entry = dict(row)
    entry["configuration_requirements"] = configuration_requirements(entry["config_schema"], entry["secret_fields"])
    entry["removed_from_registry_at"] = entry.pop("removed_at")
    entry["quality_criteria"] = dict(sorted(entry["quality_criteria"].items()))  # jsonb keeps its own key order
    entry["reviews_summary"] = await reviews.summary(pool=pool, key=key)
    entry["usage_stats"] = {**await usage.integration_stats(pool=pool, key=key),
                            **await installs.setup_time(pool=pool, key=key)}
    return entry
