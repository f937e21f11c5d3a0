import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery } from "@tanstack/react-query";
import { installer, unwrap } from "../api/client";
import { ActionsPanel } from "../components/ActionsPanel";
import { CredentialAuditPanel, WebhookDeliveriesPanel } from "../components/logs/AuditPanels";
import { ProblemMessage } from "../components/ProblemMessage";
import { RelativeTime } from "../components/RelativeTime";
import { StatusBadge } from "../components/StatusBadge";
import { LogTable } from "../components/LogTable";

type Job = {
  id: string;
  sync_type: string;
  status: string;
  processed_records: number;
  published_events: number;
  failed_records: number;
  triggered_by: string;
  error_class: string | null;
  error_message: string | null;
  started_at: string | null;
  completed_at: string | null;
  created_at: string;
};

const TABS = ["Activity", "Sync jobs", "Webhook deliveries", "Actions", "Credential audit"] as const;

/** An installation's logs: the activity log (configuration, tests, state changes, syncs), its sync jobs,
 * the vendor's webhook deliveries, push actions and their outcomes, and the credential audit. */
export default function Logs() {
  const { id = "" } = useParams();
  const [tab, setTab] = useState<(typeof TABS)[number]>("Activity");
  const path = { installation_id: id };
  const inst = useQuery({
    queryKey: ["installation", id],
    queryFn: () => unwrap(installer.GET("/v1/installations/{installation_id}", { params: { path } })),
  });
  const activity = useQuery({
    queryKey: ["activity", id],
    queryFn: () => unwrap(installer.GET("/v1/installations/{installation_id}/activity", { params: { path, query: { limit: 100 } } })),
    enabled: tab === "Activity",
  });
  const jobs = useQuery({
    queryKey: ["jobs", id],
    queryFn: async () =>
      (await unwrap(installer.GET("/v1/installations/{installation_id}/sync-jobs", { params: { path, query: { limit: 100 } } }))) as {
        items: Job[];
      },
    enabled: tab === "Sync jobs",
  });
  if (inst.error) return <ProblemMessage error={inst.error} title="Installation not available" />;
  return (
    <section>
      <p>
        <Link to="/integrations/installed">← My integrations</Link>
      </p>
      <h1>Logs: {inst.data?.integration_name ?? "…"}</h1>
      <div role="tablist" aria-label="Logs" className="tabs">
        {TABS.map((t) => (
          <button key={t} type="button" role="tab" aria-selected={tab === t} aria-controls="log-panel" onClick={() => setTab(t)}>
            {t}
          </button>
        ))}
      </div>
      <div id="log-panel" role="tabpanel" aria-label={tab}>
        {tab === "Activity" && (
          <>
            <ProblemMessage error={activity.error} title="Could not load the activity log" />
            <LogTable caption="Activity, newest first" columns={["When", "What", "Outcome", "Who", "Message"]}>
              {(activity.data?.items ?? []).map((a) => (
                <tr key={a.id}>
                  <td>
                    <RelativeTime iso={a.created_at} />
                  </td>
                  <td>{a.activity_type.replace(/_/g, " ")}</td>
                  <td>
                    <StatusBadge status={a.status === "success" ? "completed" : a.status === "failure" ? "failed" : "unknown"} label={a.status} />
                  </td>
                  <td className="small">{a.actor}</td>
                  <td className="small">{a.message}</td>
                </tr>
              ))}
            </LogTable>
          </>
        )}
        {tab === "Actions" && <ActionsPanel installationId={id} />}
        {tab === "Webhook deliveries" && <WebhookDeliveriesPanel installationId={id} />}
        {tab === "Credential audit" && <CredentialAuditPanel installationId={id} />}
        {tab === "Sync jobs" && (
          <>
            <ProblemMessage error={jobs.error} title="Could not load the sync jobs" />
            <LogTable caption="Sync jobs, newest first" columns={["Started", "Type", "Status", "Records", "Events", "Failed", "Error"]}>
              {(jobs.data?.items ?? []).map((j) => (
                <tr key={j.id}>
                  <td>
                    <RelativeTime iso={j.started_at ?? j.created_at} />
                  </td>
                  <td>
                    {j.sync_type} <span className="muted small">({j.triggered_by})</span>
                  </td>
                  <td>
                    <StatusBadge status={j.status} />
                  </td>
                  <td>{j.processed_records}</td>
                  <td>{j.published_events}</td>
                  <td>{j.failed_records}</td>
                  <td className="small">{j.error_class ? `${j.error_class}: ${j.error_message}` : ""}</td>
                </tr>
              ))}
            </LogTable>
          </>
        )}
      </div>
    </section>
  );
}
