import { useCallback } from "react";
import { useSearchParams } from "react-router-dom";
import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { catalog, unwrap } from "../api/client";
import { FacetList } from "../components/FacetList";
import { IntegrationCard } from "../components/IntegrationCard";
import { ProblemMessage } from "../components/ProblemMessage";
import { SearchBox } from "../components/SearchBox";

const SORTS = [
  ["", "Best match"],
  ["installs", "Most installed"],
  ["rating", "Top rated"],
  ["name", "Name"],
  ["updated", "Recently updated"],
] as const;

export function Home() {
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const sort = params.get("sort") ?? "";
  const filters = {
    category: params.getAll("category"),
    capability: params.getAll("capability"),
    pricing_model: params.getAll("pricing_model"),
    quality_tier: params.getAll("quality_tier"),
  };
  const webhooksOnly = params.get("webhooks") === "1";
  const query = { q: q || undefined, ...filters };

  const update = useCallback(
    (change: (p: URLSearchParams) => void) =>
      setParams(
        (prev) => {
          const next = new URLSearchParams(prev);
          change(next);
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  const onSearch = useCallback((text: string) => update((p) => (text ? p.set("q", text) : p.delete("q"))), [update]);
  const toggle = (dimension: string, value: string) =>
    update((p) => {
      const values = p.getAll(dimension);
      p.delete(dimension);
      for (const v of values.includes(value) ? values.filter((x) => x !== value) : [...values, value])
        p.append(dimension, v);
    });

  const facets = useQuery({
    queryKey: ["facets", query],
    queryFn: () => unwrap(catalog.GET("/v1/integrations/facets", { params: { query } })),
    placeholderData: keepPreviousData,
  });
  // The landing view (no search, no filter) also shows featured collections and top rated.
  const landing = !params.toString();
  const home = useQuery({
    queryKey: ["home"],
    queryFn: () => unwrap(catalog.GET("/v1/home")),
    enabled: landing,
  });
  const list = useInfiniteQuery({
    queryKey: ["integrations", query, sort],
    queryFn: ({ pageParam }) =>
      unwrap(
        catalog.GET("/v1/integrations", {
          params: { query: { ...query, sort: sort || undefined, limit: 24, cursor: pageParam ?? undefined } },
        }),
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.next_cursor,
    placeholderData: keepPreviousData,
  });
  const items = (list.data?.pages ?? []).flatMap((p) => p.items).filter((i) => !webhooksOnly || i.supports_webhooks);

  return (
    <div className="home">
      <h1>Integration marketplace</h1>
      <SearchBox value={q} onSearch={onSearch} suggestions={q ? items.slice(0, 6).map((i) => i.name) : []} />
      {landing && home.data && home.data.featured_collections.length > 0 && (
        <section aria-labelledby="featured-h" className="featured">
          <h2 id="featured-h">Featured collections</h2>
          <ul className="chips">
            {home.data.featured_collections.map((c) => (
              <li key={c.slug}>
                <strong>{c.name}</strong> <span className="count">{c.tool_count} tools</span>
                <p className="small muted">{c.description}</p>
              </li>
            ))}
          </ul>
        </section>
      )}
      {landing && home.data && home.data.top_rated.length > 0 && (
        <section aria-labelledby="top-h">
          <h2 id="top-h">Top rated</h2>
          <ul className="grid">
            {home.data.top_rated.slice(0, 3).map((item) => (
              <IntegrationCard key={item.key} item={item} />
            ))}
          </ul>
        </section>
      )}
      <div className="columns">
        <aside aria-label="Filters">
          <h2 className="h3">Browse by category</h2>
          <FacetList legend="Category" dimension="category" facets={facets.data} selected={filters.category} onToggle={toggle} />
          <FacetList legend="Capability" dimension="capability" facets={facets.data} selected={filters.capability} onToggle={toggle} />
          <FacetList legend="Pricing" dimension="pricing_model" facets={facets.data} selected={filters.pricing_model} onToggle={toggle} />
          <FacetList legend="Quality tier" dimension="quality_tier" facets={facets.data} selected={filters.quality_tier} onToggle={toggle} />
          <div className="facet-value">
            <input
              type="checkbox"
              id="webhooks"
              checked={webhooksOnly}
              onChange={() => update((p) => (webhooksOnly ? p.delete("webhooks") : p.set("webhooks", "1")))}
            />
            <label htmlFor="webhooks">Takes webhooks</label>
          </div>
        </aside>
        <section aria-labelledby="results-h" className="results">
          <div className="results-head">
            <h2 id="results-h" aria-live="polite">
              {facets.data ? `${facets.data.total} integrations` : "Integrations"}
              {q && ` for “${q}”`}
            </h2>
            <label>
              Sort{" "}
              <select value={sort} onChange={(e) => update((p) => (e.target.value ? p.set("sort", e.target.value) : p.delete("sort")))}>
                {SORTS.map(([value, label]) => (
                  <option key={value} value={value}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
          </div>
          <ProblemMessage error={list.error} title="Could not load the catalog" />
          {list.isPending && <p aria-busy="true">Loading…</p>}
          {!list.isPending && items.length === 0 && !list.error && (
            <p>No integration matches. Try fewer filters or another spelling.</p>
          )}
          <ul className="grid">
            {items.map((item) => (
              <IntegrationCard key={item.key} item={item} />
            ))}
          </ul>
          {list.hasNextPage && (
            <button type="button" onClick={() => list.fetchNextPage()} disabled={list.isFetchingNextPage}>
              {list.isFetchingNextPage ? "Loading…" : "Show more"}
            </button>
          )}
        </section>
      </div>
    </div>
  );
}
