import { useState } from "react";
import Form from "@rjsf/core";
import validator from "@rjsf/validator-ajv8";
import type { RJSFSchema } from "@rjsf/utils";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { components } from "../api/installer";
import { installer, unwrap } from "../api/client";
import { can, useSession } from "../auth/session";
import { ProblemMessage } from "./ProblemMessage";
import { RelativeTime } from "./RelativeTime";
import { StatusBadge } from "./StatusBadge";
import { LogTable } from "./LogTable";

export type Action = components["schemas"]["Action"];
export type ActionRun = components["schemas"]["ActionRun"];

const BADGE: Record<string, string> = { pending: "running", succeeded: "completed", failed: "failed", unknown: "unknown" };

/** The actions an installation's connector offers (a form generated from each one's input schema,
 *  shown only to roles that may run it) and the log of runs. Presentational: `onRun` sends a run. */
export function ActionsView({ actions, runs, onRun, running, error }: {
  actions: Action[];
  runs: ActionRun[];
  onRun: (action: string, input: Record<string, unknown>) => void;
  running?: boolean;
  error?: unknown;
}) {
  const session = useSession();
  const [open, setOpen] = useState<string | null>(null);
  const chosen = actions.find((a) => a.name === open);
  return (
    <>
      <ul className="actions">
        {actions.map((a) => (
          <li key={a.name}>
            <strong>{a.name.replace(/_/g, " ")}</strong> {a.destructive && <span className="badge">destructive</span>}
            <span className="muted small"> {a.description}</span>{" "}
            {can(session, a.min_role) ? (
              <button type="button" onClick={() => setOpen(a.name)}>Run…</button>
            ) : (
              <span className="small muted">needs {a.min_role}</span>
            )}
          </li>
        ))}
      </ul>
      {chosen && (
        <fieldset>
          <legend>Run {chosen.name.replace(/_/g, " ")}</legend>
          <Form
            schema={chosen.input_schema as RJSFSchema}
            validator={validator}
            disabled={running}
            onSubmit={({ formData }) => onRun(chosen.name, formData as Record<string, unknown>)}
          />
          <ProblemMessage error={error} title="The action could not be started" />
        </fieldset>
      )}
      <LogTable caption="Action runs, newest first" columns={["When", "Action", "Status", "Who", "Result"]}>
        {runs.map((r) => (
          <tr key={r.id}>
            <td><RelativeTime iso={r.created_at} /></td>
            <td>{r.action.replace(/_/g, " ")}</td>
            <td><StatusBadge status={BADGE[r.status] ?? "unknown"} label={r.status} /></td>
            <td className="small">{r.requested_by}</td>
            <td className="small">
              {r.vendor_url ? <a href={r.vendor_url}>{r.vendor_id}</a> : r.vendor_id}
              {r.error_class ? `${r.error_class}: ${r.error_message ?? ""}` : ""}
            </td>
          </tr>
        ))}
      </LogTable>
    </>
  );
}

/** ActionsView wired to the installer API; each submitted form is one run with its own Idempotency-Key. */
export function ActionsPanel({ installationId }: { installationId: string }) {
  const path = { installation_id: installationId };
  const actions = useQuery({
    queryKey: ["actions", installationId],
    queryFn: () => unwrap(installer.GET("/v1/installations/{installation_id}/actions", { params: { path } })),
  });
  const runs = useQuery({
    queryKey: ["action-runs", installationId],
    queryFn: () => unwrap(installer.GET("/v1/installations/{installation_id}/action-runs", { params: { path, query: { limit: 50 } } })),
    refetchInterval: (q) => (q.state.data?.items.some((r) => r.status === "pending") ? 2000 : false),
  });
  const run = useMutation({
    mutationFn: ({ action, input }: { action: string; input: Record<string, unknown> }) =>
      unwrap(installer.POST("/v1/installations/{installation_id}/actions/{action}/runs", {
        params: { path: { ...path, action }, header: { "idempotency-key": crypto.randomUUID() } },
        body: input,
      })),
    onSuccess: () => runs.refetch(),
  });
  return (
    <>
      <ProblemMessage error={actions.error ?? runs.error} title="Could not load the actions" />
      <ActionsView actions={actions.data?.items ?? []} runs={runs.data?.items ?? []} running={run.isPending}
        error={run.error} onRun={(action, input) => run.mutate({ action, input })} />
    </>
  );
}
