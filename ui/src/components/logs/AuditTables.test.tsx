import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { CredentialAuditTable, WebhookDeliveriesTable } from "./AuditTables";

describe("audit tables", () => {
  it("lists credential audit rows with their outcome and actor", () => {
    render(
      <CredentialAuditTable
        items={[
          { id: 2, credential_ref: null, action: "lease", actor: "service:sync-runner", outcome: "denied", reason: "wrong installation", at: "2026-01-01T00:00:00Z" },
          { id: 1, credential_ref: "c-1", action: "store", actor: "service:installer", outcome: "ok", reason: null, at: "2026-01-01T00:00:00Z" },
        ]}
      />,
    );
    expect(screen.getAllByRole("row")).toHaveLength(3);
    expect(screen.getByText("denied").className).toContain("badge-bad");
    expect(screen.getByText("service:installer")).toBeTruthy();
    expect(screen.getByText("wrong installation")).toBeTruthy();
  });

  it("says so when nothing was stored", () => {
    render(<CredentialAuditTable items={[]} />);
    expect(screen.getByText(/No credential activity yet/)).toBeTruthy();
  });

  it("lists webhook deliveries with the body hash, never the body", () => {
    render(
      <WebhookDeliveriesTable
        items={[
          { id: 3, delivery_id: null, payload_sha256: "ab".repeat(32), status: "rejected", reason: "invalid_signature", event_count: 0, received_at: "2026-01-01T00:00:00Z" },
          { id: 2, delivery_id: "d-1", payload_sha256: null, status: "accepted", reason: null, event_count: 4, received_at: "2026-01-01T00:00:00Z" },
        ]}
      />,
    );
    expect(screen.getByText("rejected").className).toContain("badge-bad");
    expect(screen.getByText("invalid_signature")).toBeTruthy();
    expect(screen.getByText(/sha256 abababababab…/)).toBeTruthy();
    expect(screen.getByText("4")).toBeTruthy();
  });
});
