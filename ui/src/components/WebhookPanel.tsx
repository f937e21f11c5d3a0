import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { installer, unwrap } from "../api/client";
import { ProblemMessage } from "./ProblemMessage";

function Copy({ value, label }: { value: string; label: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      aria-label={`Copy ${label}`}
      onClick={async () => {
        await navigator.clipboard?.writeText(value);
        setDone(true);
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}

/** Where the vendor posts webhooks, and a signing secret shown once when generated. */
export function WebhookPanel({ installationId }: { installationId: string }) {
  const path = { installation_id: installationId };
  const settings = useQuery({
    queryKey: ["webhook", installationId],
    queryFn: () => unwrap(installer.GET("/v1/installations/{installation_id}/webhook", { params: { path } })),
  });
  const rotate = useMutation({
    mutationFn: () => unwrap(installer.POST("/v1/installations/{installation_id}/webhook/rotate-secret", { params: { path } })),
    onSuccess: () => settings.refetch(),
  });
  const w = settings.data;
  if (!w?.supported || !w.url) return null;
  return (
    <fieldset className="webhook">
      <legend>Webhooks</legend>
      <label htmlFor="wh-url">Webhook URL (paste it into the vendor's webhook settings)</label>
      <div className="copyable">
        <input id="wh-url" readOnly value={w.url} />
        <Copy value={w.url} label="webhook URL" />
      </div>
      {w.signature_header && <p className="small">Signed in the {w.signature_header} header.</p>}
      <p className="small">
        Signing secret: {w.signing_secret_configured ? `configured (${w.secret_source?.replace(/_/g, " ")})` : "not set"}
      </p>
      {rotate.data ? (
        <>
          <label htmlFor="wh-secret">New signing secret (shown this once)</label>
          <div className="copyable">
            <input id="wh-secret" readOnly value={rotate.data.signing_secret} />
            <Copy value={rotate.data.signing_secret} label="signing secret" />
          </div>
        </>
      ) : (
        <button type="button" onClick={() => rotate.mutate()} disabled={rotate.isPending}>
          Generate a new signing secret
        </button>
      )}
      <ProblemMessage error={rotate.error} title="Could not generate a secret" />
    </fieldset>
  );
}
