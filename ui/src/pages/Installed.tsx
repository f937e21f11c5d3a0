import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { installer, unwrap, type Installation } from "../api/client";
import { Can } from "../components/Can";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { DemoBadge } from "../components/demo/DemoBadge";
import { ProblemMessage } from "../components/ProblemMessage";
import { RecordsSynced } from "../components/RecordsSynced";
import { RelativeTime } from "../components/RelativeTime";
import { StatusBadge } from "../components/StatusBadge";

type Job = {
  id: string;
  status: string;
  progress_percent: number;
  processed_records: number;
  published_events: number;
  failed_records: number;
  error_class: string | null;
  error_message: string | null;
  completed_at: string | null;
};

export const FILTERS = {
  All: (_: Installation) => true,
  Active: (i: Installation) => i.status === "enabled",
  Inactive: (i: Installation) => i.status === "disabled" || i.status === "configuring" || i.status === "suspended",
  Errors: (i: Installation) => i.status === "error" || i.health_status === "unhealthy" || i.last_sync_status === "failed",
} as const;
type Filter = keyof typeof FILTERS;

function InstallationCard({ inst, name }: { inst: Installation; name: string }) {
  const queryClient = useQueryClient();
  const [confirming, setConfirming] = useState(false);
  // Sync now: the job appears once sync-runner takes the request (through Kafka); until then the
  // card says it was requested, and it polls while a job is pending or running.
  const [requested, setRequested] = useState<{ after: string | null } | null>(null);
  const path = { installation_id: inst.id };
  const jobs = useQuery({
    queryKey: ["jobs", inst.id],
    queryFn: async () =>
      (await unwrap(installer.GET("/v1/installations/{installation_id}/sync-jobs", { params: { path, query: { limit: 100 } } }))) as {
        items: Job[];
      },
    refetchInterval: (q) => {
      const latest = q.state.data?.items[0];
      if (latest && ["pending", "running"].includes(latest.status)) return 1000;
      if (requested && (latest?.id ?? null) === requested.after) return 1000;
      if (!latest && inst.status === "enabled") return 2000;
      return false;
    },
  });
  const job = jobs.data?.items[0];
  // The installer adds a job's counts up when sync-runner's outcome event reaches it, a moment
  // after the job list shows the job finished: refresh the installation until it has (at most a minute).
  const outcomePending =
    !!job?.completed_at &&
    ["completed", "failed"].includes(job.status) &&
    (!inst.last_sync_at || Date.parse(inst.last_sync_at) < Date.parse(job.completed_at)) &&
    Date.now() - Date.parse(job.completed_at) < 60_000;
  useEffect(() => {
    if (!outcomePending) return;
    const timer = setInterval(() => queryClient.invalidateQueries({ queryKey: ["installations"] }), 1500);
    return () => clearInterval(timer);
  }, [outcomePending, queryClient]);
  const waiting = requested !== null && (job?.id ?? null) === requested.after;
  const refresh = () => {
    queryClient.invalidateQueries({ queryKey: ["installations"] });
    queryClient.invalidateQueries({ queryKey: ["jobs", inst.id] });
    queryClient.invalidateQueries({ queryKey: ["integrations"] });
  };
  const action = useMutation({
    mutationFn: async (what: "sync" | "enable" | "disable" | "uninstall") => {
      if (what === "sync") setRequested({ after: job?.id ?? null });
      if (what === "sync") await unwrap(installer.POST("/v1/installations/{installation_id}/sync", { params: { path }, body: { sync_type: "incremental" } }));
      else if (what === "enable") await unwrap(installer.POST("/v1/installations/{installation_id}/enable", { params: { path } }));
      else if (what === "disable") await unwrap(installer.POST("/v1/installations/{installation_id}/disable", { params: { path } }));
      else await unwrap(installer.DELETE("/v1/installations/{installation_id}", { params: { path } }));
    },
    onSuccess: (_, what) => {
      if (what === "uninstall") setConfirming(false);
      refresh();
    },
    onError: () => setRequested(null),
  });
  const running = job && ["pending", "running"].includes(job.status);
  return (
    <li className={`card installation${inst.demo ? " demo" : ""}`} aria-label={inst.demo ? `${name} (demo)` : name}>
      <div className="card-head">
        {inst.logo_url ? (
          <img className="logo" src={inst.logo_url} alt="" />
        ) : (
          <span className="logo" aria-hidden="true">
            {name.slice(0, 2)}
          </span>
        )}
        <div>
          <h2 className="h3">
            <Link to={`/integrations/${inst.integration_key}`}>{name}</Link>
          </h2>
          <p className="small">
            {inst.demo && <DemoBadge />} <StatusBadge status={inst.status} />{" "}
            <StatusBadge status={inst.health_status} label={`health: ${inst.health_status}`} />
          </p>
        </div>
      </div>
      <dl className="stats">
        <dt>Last sync</dt>
        <dd>
          {/* the installer learns a job's outcome from an event, a moment after the job list shows it */}
          <RelativeTime iso={inst.last_sync_at ?? job?.completed_at} />{" "}
          {(inst.last_sync_status ?? (job?.completed_at ? job.status : null)) && (
            <StatusBadge status={(inst.last_sync_status ?? job?.status) as string} />
          )}
        </dd>
        <dt>Records synced</dt>
        <dd data-testid="records" data-job={job?.id ?? ""}>
          <RecordsSynced counts={inst.records_synced} />
          {job?.completed_at && <span className="muted small"> (last sync: {job.processed_records} records)</span>}
        </dd>
        <dt>Schedule</dt>
        <dd>{inst.auto_sync ? inst.sync_frequency : "manual"}</dd>
      </dl>
      {waiting && (
        <p role="status" className="small">
          Sync requested…
        </p>
      )}
      {running && (
        <div>
          <label htmlFor={`p-${inst.id}`}>Sync {job.status}</label>
          <progress id={`p-${inst.id}`} max={100} value={job.progress_percent}>
            {job.progress_percent} %
          </progress>
        </div>
      )}
      {job?.status === "failed" && (
        <p role="alert" className="alert alert-bad small">
          Last sync failed ({job.error_class}): {job.error_message}
        </p>
      )}
      {inst.last_error && inst.status === "error" && <p className="alert alert-bad small">{inst.last_error}</p>}
      <ProblemMessage error={action.error} title="Action failed" />
      <div className="actions">
        <Link className="button" to={`/integrations/installed/${inst.id}/logs`}>
          View logs
        </Link>
        <Can role="operator">
          <button type="button" onClick={() => action.mutate("sync")} disabled={action.isPending || inst.status !== "enabled"}>
            Sync now
          </button>
        </Can>
        <Can role="admin">
          <Link className="button" to={`/integrations/${inst.integration_key}/install`}>
            Configure
          </Link>
          {inst.status === "enabled" ? (
            <button type="button" onClick={() => action.mutate("disable")} disabled={action.isPending}>
              Disable
            </button>
          ) : (
            <button type="button" onClick={() => action.mutate("enable")} disabled={action.isPending || inst.status === "configuring"}>
              Enable
            </button>
          )}
          <button type="button" className="danger" onClick={() => setConfirming(true)}>
            {inst.demo ? "Throw away demo" : "Uninstall"}
          </button>
        </Can>
      </div>
      {confirming && (
        <ConfirmDialog
          title={inst.demo ? `Throw away the ${name} demo?` : `Uninstall ${name}?`}
          confirmLabel={inst.demo ? "Throw away demo" : "Uninstall and destroy credentials"}
          busy={action.isPending}
          onCancel={() => setConfirming(false)}
          onConfirm={() => action.mutate("uninstall")}
        >
          <p>
            Syncs stop and the stored credentials are destroyed (crypto-shredded): they cannot be recovered. Events
            already published stay in ARIA.
          </p>
        </ConfirmDialog>
      )}
    </li>
  );
}

export default function Installed() {
  const [filter, setFilter] = useState<Filter>("All");
  const installations = useQuery({
    queryKey: ["installations"],
    queryFn: () => unwrap(installer.GET("/v1/installations", { params: { query: { limit: 200 } } })),
  });
  const items = (installations.data?.items ?? []).filter(FILTERS[filter]);
  return (
    <section>
      <h1>My integrations</h1>
      <div role="group" aria-label="Show" className="tabs">
        {(Object.keys(FILTERS) as Filter[]).map((f) => (
          <button key={f} type="button" aria-pressed={filter === f} onClick={() => setFilter(f)}>
            {f} ({(installations.data?.items ?? []).filter(FILTERS[f]).length})
          </button>
        ))}
      </div>
      <ProblemMessage error={installations.error} title="Could not load installations" />
      {installations.isPending && <p aria-busy="true">Loading…</p>}
      {installations.data && items.length === 0 && (
        <p>
          Nothing here yet. <Link to="/integrations">Find an integration</Link>.
        </p>
      )}
      <ul className="grid wide">
        {items.map((inst) => (
          <InstallationCard key={inst.id} inst={inst} name={inst.integration_name} />
        ))}
      </ul>
    </section>
  );
}
