import { useInfiniteQuery } from "@tanstack/react-query";
import { installer, unwrap } from "../../api/client";
import { ProblemMessage } from "../ProblemMessage";
import { CredentialAuditTable, WebhookDeliveriesTable } from "./AuditTables";

const PAGE = 50;

function LoadMore({ more, busy, onMore }: { more: boolean; busy: boolean; onMore: () => void }) {
  if (!more) return null;
  return (
    <button type="button" onClick={onMore} disabled={busy}>
      {busy ? "Loading…" : "Load older entries"}
    </button>
  );
}

/** The installation's credential audit, paged newest first (viewer and up). */
export function CredentialAuditPanel({ installationId }: { installationId: string }) {
  const path = { installation_id: installationId };
  const q = useInfiniteQuery({
    queryKey: ["credential-audit", installationId],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(installer.GET("/v1/installations/{installation_id}/credential-audit", { params: { path, query: { limit: PAGE, cursor: pageParam } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  return (
    <>
      <ProblemMessage error={q.error} title="Could not load the credential audit" />
      {q.data && <CredentialAuditTable items={q.data.pages.flatMap((p) => p.items)} />}
      <LoadMore more={q.hasNextPage} busy={q.isFetchingNextPage} onMore={() => q.fetchNextPage()} />
    </>
  );
}

/** The vendor's webhook deliveries to the installation, paged newest first (viewer and up). */
export function WebhookDeliveriesPanel({ installationId }: { installationId: string }) {
  const path = { installation_id: installationId };
  const q = useInfiniteQuery({
    queryKey: ["webhook-deliveries", installationId],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      unwrap(installer.GET("/v1/installations/{installation_id}/webhook-deliveries", { params: { path, query: { limit: PAGE, cursor: pageParam } } })),
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  return (
    <>
      <ProblemMessage error={q.error} title="Could not load the webhook deliveries" />
      {q.data && <WebhookDeliveriesTable items={q.data.pages.flatMap((p) => p.items)} />}
      <LoadMore more={q.hasNextPage} busy={q.isFetchingNextPage} onMore={() => q.fetchNextPage()} />
    </>
  );
}
