import type { CredentialAuditEntry, WebhookDelivery } from "../../api/client";
import { RelativeTime } from "../RelativeTime";
import { StatusBadge } from "../StatusBadge";
import { LogTable } from "../LogTable";

const OUTCOME_TONE: Record<string, string> = { ok: "completed", denied: "failed", failed: "failed" };
const DELIVERY_TONE: Record<string, string> = { accepted: "completed", duplicate: "unknown", rejected: "failed" };

/** vault-gateway's audit trail of the installation's credentials: who stored, leased, rotated or shredded them. */
export function CredentialAuditTable({ items }: { items: CredentialAuditEntry[] }) {
  if (items.length === 0) return <p className="muted">No credential activity yet: nothing has been stored for this installation.</p>;
  return (
    <LogTable caption="Credential audit, newest first" columns={["When", "Action", "Outcome", "By", "Reason"]}>
      {items.map((a) => (
        <tr key={a.id}>
          <td>
            <RelativeTime iso={a.at} />
          </td>
          <td>{a.action}</td>
          <td>
            <StatusBadge status={OUTCOME_TONE[a.outcome] ?? "unknown"} label={a.outcome} />
          </td>
          <td className="small">{a.actor}</td>
          <td className="small">{a.reason ?? ""}</td>
        </tr>
      ))}
    </LogTable>
  );
}

/** webhook-ingest's log of the vendor's deliveries: accepted, duplicate or rejected (with why). */
export function WebhookDeliveriesTable({ items }: { items: WebhookDelivery[] }) {
  if (items.length === 0) return <p className="muted">No webhook deliveries have reached this installation.</p>;
  return (
    <LogTable caption="Webhook deliveries, newest first" columns={["Received", "Delivery", "Outcome", "Events", "Reason"]}>
      {items.map((d) => (
        <tr key={d.id}>
          <td>
            <RelativeTime iso={d.received_at} />
          </td>
          <td className="small">
            {d.delivery_id ?? "—"}
            {d.payload_sha256 && <span className="muted"> · sha256 {d.payload_sha256.slice(0, 12)}…</span>}
          </td>
          <td>
            <StatusBadge status={DELIVERY_TONE[d.status] ?? "unknown"} label={d.status} />
          </td>
          <td>{d.event_count}</td>
          <td className="small">{d.reason ?? ""}</td>
        </tr>
      ))}
    </LogTable>
  );
}
