import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/react";
import { ActionsView, type Action, type ActionRun } from "./ActionsPanel";
import { signIn } from "../auth/session";

function token(role: string): string {
  const claims = btoa(JSON.stringify({ sub: `dev-${role}`, org_id: "org-1", role }));
  return `e30.${claims.replace(/=+$/, "")}.sig`;
}

const COMMENT: Action = {
  name: "add_comment", kind: "add_comment", description: "Comment on an issue", input_type: "ticket",
  destructive: false, min_role: "operator",
  input_schema: { type: "object", required: ["vendor_id", "comment"],
                  properties: { vendor_id: { type: "string", title: "Ticket id" }, comment: { type: "string", title: "Comment" } } },
};
const CLOSE: Action = {
  name: "update_alert_status", kind: "update_status", description: "Close an alert", input_type: "alert",
  destructive: true, min_role: "admin", input_schema: { type: "object", properties: {} },
};
const RUN: ActionRun = {
  id: "r-1", installation_id: "i-1", action: "create_ticket", kind: "create_ticket", destructive: false,
  input: { entity_id: "e-1" }, status: "succeeded", requested_by: "dev-operator", vendor_id: "SEC-1",
  vendor_url: "https://jira.example/browse/SEC-1", vendor_status: "created", error_class: null, error_message: null,
  created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", completed_at: "2026-01-01T00:00:01Z",
};

describe("actions panel", () => {
  it("offers destructive actions to admins only and lists the runs", () => {
    signIn(token("operator"));
    render(<ActionsView actions={[COMMENT, CLOSE]} runs={[RUN]} onRun={() => {}} />);
    expect(screen.getAllByRole("button", { name: "Run…" })).toHaveLength(1);
    expect(screen.getByText("needs admin")).toBeTruthy();
    expect(screen.getByRole("link", { name: "SEC-1" }).getAttribute("href")).toBe(RUN.vendor_url);
  });

  it("runs an action with the form generated from its input schema", () => {
    signIn(token("operator"));
    const onRun = vi.fn();
    render(<ActionsView actions={[COMMENT]} runs={[]} onRun={onRun} />);
    fireEvent.click(screen.getByRole("button", { name: "Run…" }));
    fireEvent.change(screen.getByLabelText(/Ticket id/), { target: { value: "SEC-1" } });
    fireEvent.change(screen.getByLabelText(/Comment/), { target: { value: "Looking into it" } });
    fireEvent.submit(screen.getByRole("button", { name: "Submit" }).closest("form")!);
    expect(onRun).toHaveBeenCalledWith("add_comment", { vendor_id: "SEC-1", comment: "Looking into it" });
  });
});
