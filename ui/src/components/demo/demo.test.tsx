import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { TryDemoView } from "./TryDemo";
import { DemoBadge } from "./DemoBadge";
import { signIn } from "../../auth/session";

function token(role: string): string {
  const claims = btoa(JSON.stringify({ sub: `dev-${role}`, org_id: "org-1", role }));
  return `e30.${claims.replace(/=+$/, "")}.sig`;
}
const router = { v7_startTransition: true, v7_relativeSplatPath: true };

describe("try demo", () => {
  it("offers Try demo to admins and opens it", () => {
    signIn(token("admin"));
    const onTry = vi.fn();
    render(<MemoryRouter future={router}><TryDemoView name="CrowdStrike Falcon" open={false} busy={false} onTry={onTry} /></MemoryRouter>);
    fireEvent.click(screen.getByRole("button", { name: "Try demo" }));
    expect(onTry).toHaveBeenCalledOnce();
  });

  it("hides Try demo below admin", () => {
    signIn(token("operator"));
    render(<MemoryRouter future={router}><TryDemoView name="CrowdStrike Falcon" open={false} busy={false} onTry={() => {}} /></MemoryRouter>);
    expect(screen.queryByRole("button", { name: "Try demo" })).toBeNull();
  });

  it("links to the demo already open, for any role", () => {
    signIn(token("viewer"));
    render(<MemoryRouter future={router}><TryDemoView name="CrowdStrike Falcon" open busy={false} onTry={() => {}} /></MemoryRouter>);
    expect(screen.getByRole("link", { name: "Open demo" }).getAttribute("href")).toBe("/integrations/installed");
  });

  it("marks a demo installation", () => {
    render(<DemoBadge />);
    expect(screen.getByText("Demo").className).toContain("badge-demo");
  });
});
