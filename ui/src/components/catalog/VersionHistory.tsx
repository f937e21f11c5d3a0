import { useInfiniteQuery } from "@tanstack/react-query";
import { catalog, unwrap } from "../../api/client";
import type { components } from "../../api/catalog";
import { ProblemMessage } from "../ProblemMessage";
import { RelativeTime } from "../RelativeTime";

export type VersionChange = components["schemas"]["VersionChange"];

const WORDS: Record<VersionChange["change"], (v: VersionChange) => string> = {
  added: (v) => `v${v.version} added to the marketplace`,
  version_changed: (v) => `v${v.version}${v.previous_version ? ` (was v${v.previous_version})` : ""}`,
  updated: (v) => `v${v.version} details updated`,
  removed: (v) => `v${v.version} withdrawn from the registry`,
  restored: (v) => `v${v.version} back in the registry`,
};

/** The catalog's record of an integration's versions, newest first. */
export function VersionList({ items }: { items: VersionChange[] }) {
  if (items.length === 0) return <p className="muted">No version history recorded.</p>;
  return (
    <ol className="plain" aria-label="Version history">
      {items.map((v) => (
        <li key={v.id}>
          {WORDS[v.change](v)} <span className="muted small">· <RelativeTime iso={v.recorded_at} /></span>
        </li>
      ))}
    </ol>
  );
}

export function VersionHistory({ integrationKey }: { integrationKey: string }) {
  const q = useInfiniteQuery({
    queryKey: ["versions", integrationKey],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(catalog.GET("/v1/integrations/{key}/versions", { params: { path: { key: integrationKey }, query: { limit: 10, cursor: pageParam } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  return (
    <section>
      <h2>Version history</h2>
      <ProblemMessage error={q.error} title="Could not load the version history" />
      {q.data && <VersionList items={q.data.pages.flatMap((p) => p.items)} />}
      {q.hasNextPage && (
        <button type="button" onClick={() => q.fetchNextPage()} disabled={q.isFetchingNextPage}>
          Older versions
        </button>
      )}
    </section>
  );
}
