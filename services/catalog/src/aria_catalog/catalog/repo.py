"""SQL for browsing the catalog: filtered, searched, keyset-paginated lists, facets, detail."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from .query import CatalogQuery

_SUMMARY = """c.key, c.name, c.vendor, c.product, c.category, c.description, c.logo_url, c.version, c.pricing_model,
              c.is_official, c.is_community, c.is_beta, c.is_deprecated, c.license_required, c.capabilities,
              c.data_types, c.auth_methods, c.supports_webhooks, c.installation_complexity, c.quality_tier,
              c.average_rating::float8 AS average_rating, c.review_count, c.install_count, c.last_updated"""
_DETAIL = _SUMMARY + """, c.documentation_url, c.support_url, c.minimum_platform_version, c.streams,
              c.config_schema, c.secret_fields, c.api_rate_limits, c.removed_at, c.created_at, c.quality_criteria,
              c.key_features, c.required_permissions, c.setup_minutes, c.push_actions"""

# Sort → (sort value expression, ORDER BY, keyset condition on ($a = last value, $b = last key)).
_SORTS = {
    "name": ("lower(c.name)", "lower(c.name), c.key", "(lower(c.name), c.key) > ({a}, {b})"),
    "installs": ("c.install_count", "c.install_count DESC, c.key",
                 "(c.install_count < {a} OR (c.install_count = {a} AND c.key > {b}))"),
    "rating": ("c.average_rating", "c.average_rating DESC, c.key",
               "(c.average_rating < {a} OR (c.average_rating = {a} AND c.key > {b}))"),
    "updated": ("c.last_updated", "c.last_updated DESC, c.key",
                "(c.last_updated < {a} OR (c.last_updated = {a} AND c.key > {b}))"),
    "relevance": ("{score}", "sort_value DESC, c.key",
                  "({score} < {a} OR ({score} = {a} AND c.key > {b}))"),
}
_CASTS = {"name": "text", "installs": "integer", "rating": "numeric", "updated": "timestamptz",
          "relevance": "numeric"}


class _Params:
    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        return f"${len(self.values)}" + (f"::{cast}" if cast else "")


def installed_sql(org_param: str) -> str:
    """Whether the organization in `org_param` has a live installation of catalog row `c`."""
    return (f"EXISTS (SELECT 1 FROM catalog_installations i WHERE i.integration_key = c.key "
            f"AND i.org_id = {org_param} AND i.installed)")


def summary_select(org_param: str) -> str:
    """Columns of an integration summary (row alias `c`) with the caller's installed flag."""
    return f"{_SUMMARY}, {installed_sql(org_param)} AS installed"


def _installed_sql(p: _Params, org_id: uuid.UUID) -> str:
    return installed_sql(p(org_id, "uuid"))


def _score_sql(p: _Params, q: CatalogQuery) -> str:
    text, tsq = p(q.text, "text"), p(q.tsquery, "text")
    return (f"round((ts_rank(c.search, to_tsquery('english', {tsq})) + greatest("
            f"word_similarity({text}, c.name), word_similarity({text}, c.vendor), "
            f"word_similarity({text}, coalesce(c.product, ''))))::numeric, 6)")


def _where(p: _Params, q: CatalogQuery, org_id: uuid.UUID, *, except_dimension: str | None = None) -> list[str]:
    """Every filter as SQL; facets leave out their own dimension (disjunctive facets)."""
    clauses: list[str] = []
    if not q.include_deprecated:
        clauses.append("NOT c.is_deprecated")
    if q.text is not None:
        text = p(q.text, "text")
        # Full text (prefix per word) or trigram word similarity on name/vendor/product (typos). The
        # similar candidates come from one index over the three fields (migration 0006); the per-field
        # test calls `%>`'s function rather than the operator, so the planner does not estimate it by
        # running it over the columns' statistics (that was most of a search's cost).
        clauses.append(f"(c.search @@ to_tsquery('english', {p(q.tsquery, 'text')}) OR (c.search_trigrams %> {text} "
                       f"AND (word_similarity_commutator_op(c.name, {text}) "
                       f"OR word_similarity_commutator_op(c.vendor, {text}) "
                       f"OR word_similarity_commutator_op(c.product, {text}))))")
    scalar = {"category": "c.category", "pricing_model": "c.pricing_model", "quality_tier": "c.quality_tier"}
    arrays = {"capability": "c.capabilities", "data_type": "c.data_types", "auth_method": "c.auth_methods"}
    for dimension, values in q.values.items():
        if not values or dimension == except_dimension:
            continue
        if dimension in scalar and len(values) == 1:  # `=` lets an index on (column, sort) give the page's order
            clauses.append(f"{scalar[dimension]} = {p(values[0], 'text')}")
        elif dimension in scalar:
            clauses.append(f"{scalar[dimension]} = ANY({p(list(values), 'text[]')})")
        else:  # every requested capability / data type / auth method must be present
            clauses.append(f"{arrays[dimension]} @> {p(list(values), 'text[]')}")
    for flag, column in (("official", "c.is_official"), ("community", "c.is_community"), ("beta", "c.is_beta")):
        value = getattr(q, flag)
        if value is not None:
            clauses.append(f"{column} = {p(value, 'boolean')}")
    if q.installed is not None:
        clauses.append(("" if q.installed else "NOT ") + _installed_sql(p, org_id))
    return clauses


def _and(clauses: list[str]) -> str:
    return " AND ".join(clauses) if clauses else "true"


async def list_page(conn: asyncpg.Pool | asyncpg.Connection, *, q: CatalogQuery, org_id: uuid.UUID,
                    after: tuple[Any, str] | None, limit: int) -> list[asyncpg.Record]:
    """Rows (key, sort_value) of one page, in order: the items themselves come from summaries()."""
    p = _Params()
    value_sql, order_sql, keyset_sql = _SORTS[q.sort]
    score = _score_sql(p, q) if q.sort == "relevance" else ""
    value_sql = value_sql.format(score=score)
    clauses = _where(p, q, org_id)
    if after is not None:
        clauses.append(keyset_sql.format(score=score, a=p(after[0], _CASTS[q.sort]), b=p(after[1], "text")))
    # No `installed` column: the page is the same for every organization unless it filters on it
    # (then the caller's org is a parameter of the WHERE clause), so it can be cached across orgs.
    sql = f"""SELECT c.key, {value_sql} AS sort_value
              FROM integration_catalog c
              WHERE {_and(clauses)}
              ORDER BY {order_sql}
              LIMIT {p(limit, 'integer')}"""
    return await conn.fetch(sql, *p.values)


async def summaries(conn: asyncpg.Pool | asyncpg.Connection, *, keys: list[str]) -> list[asyncpg.Record]:
    """Summary rows (no installed flag) of these integrations, in no particular order."""
    return await conn.fetch(f"SELECT {_SUMMARY} FROM integration_catalog c WHERE c.key = ANY($1::text[])", keys)


async def facet_counts(conn: asyncpg.Pool | asyncpg.Connection, *, q: CatalogQuery, org_id: uuid.UUID,
                       dimensions: dict[str, str]) -> list[asyncpg.Record]:
    """Rows (dimension, value, count); dimension '_total' carries the size of the filtered set."""
    p = _Params()
    parts = [f"SELECT '_total' AS dimension, NULL::text AS value, count(*) AS count "
             f"FROM integration_catalog c WHERE {_and(_where(p, q, org_id))}"]
    for dimension, column in dimensions.items():
        where = _and(_where(p, q, org_id, except_dimension=dimension))
        if column.startswith("unnest:"):
            parts.append(f"SELECT '{dimension}', v, count(*) FROM integration_catalog c, "
                         f"unnest(c.{column[7:]}) AS v WHERE {where} GROUP BY v")
        else:
            parts.append(f"SELECT '{dimension}', c.{column}, count(*) FROM integration_catalog c "
                         f"WHERE {where} AND c.{column} IS NOT NULL GROUP BY c.{column}")
    return await conn.fetch(" UNION ALL ".join(parts), *p.values)


async def vocabulary(conn: asyncpg.Pool | asyncpg.Connection) -> asyncpg.Record:
    """Distinct values present in the catalog, per filter dimension (kept by the registry sync)."""
    return await conn.fetchrow(
        "SELECT category, pricing_model, capability, data_type, auth_method, quality_tier FROM catalog_vocabulary")


async def top_rated(conn: asyncpg.Pool | asyncpg.Connection, *, org_id: uuid.UUID,
                    limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {summary_select("$1")} FROM integration_catalog c
            WHERE NOT c.is_deprecated AND c.review_count > 0
            ORDER BY c.average_rating DESC, c.review_count DESC, c.key LIMIT $2""", org_id, limit)


async def installed_keys(conn: asyncpg.Pool | asyncpg.Connection, *, org_id: uuid.UUID) -> list[str]:
    return await conn.fetchval(
        """SELECT coalesce(array_agg(integration_key), '{}') FROM catalog_installations
            WHERE org_id = $1 AND installed""", org_id)


async def cache_version(conn: asyncpg.Pool | asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT version FROM catalog_cache_version")


async def get_entry(conn: asyncpg.Pool | asyncpg.Connection, *, key: str,
                    org_id: uuid.UUID) -> asyncpg.Record | None:
    p = _Params()
    key_param = p(key, "text")
    return await conn.fetchrow(
        f"SELECT {_DETAIL}, {_installed_sql(p, org_id)} AS installed FROM integration_catalog c "
        f"WHERE c.key = {key_param}", *p.values)
