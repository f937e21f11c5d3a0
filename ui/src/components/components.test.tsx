import { describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MemoryRouter } from "react-router-dom";
import { Can } from "./Can";
import { ConfirmDialog } from "./ConfirmDialog";
import { IntegrationCard } from "./IntegrationCard";
import { ProblemMessage, explain } from "./ProblemMessage";
import { MappingEditor, changedMappings, type Mapping } from "./MappingEditor";
import { relativeTime } from "./RelativeTime";
import { SearchBox } from "./SearchBox";
import { StatusBadge } from "./StatusBadge";
import { Steps } from "./Steps";
import { signIn } from "../auth/session";
import { ApiError } from "../api/client";

// An unsigned token with the claims the console reads (the API verifies signatures, not the UI).
function token(role: string): string {
  const claims = btoa(JSON.stringify({ sub: `dev-${role}`, org_id: "org-1", role }));
  return `e30.${claims.replace(/=+$/, "")}.sig`;
}

const ITEM = {
  key: "crowdstrike_falcon", name: "CrowdStrike Falcon", vendor: "CrowdStrike", product: null, category: "edr",
  description: "Alerts and hosts", logo_url: null, version: "1.0.0", pricing_model: null, is_official: true,
  is_community: false, is_beta: false, is_deprecated: false, license_required: true, capabilities: ["sync"],
  data_types: ["risk"], auth_methods: [], supports_webhooks: false, installation_complexity: null,
  quality_tier: "silver" as const, average_rating: 4.5, review_count: 2, install_count: 7, last_updated: "2026-01-01T00:00:00Z", installed: false,
};

describe("role-aware actions", () => {
  it("shows install actions to admins only", () => {
    for (const [role, visible] of [["viewer", false], ["operator", false], ["admin", true]] as const) {
      signIn(token(role));
      const { unmount } = render(<MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}><ul><IntegrationCard item={ITEM} /></ul></MemoryRouter>);
      expect(!!screen.queryByRole("link", { name: "Install CrowdStrike Falcon" })).toBe(visible);
      unmount();
    }
  });

  it("shows an Installed badge instead of Install once installed", () => {
    signIn(token("admin"));
    render(<MemoryRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}><ul><IntegrationCard item={{ ...ITEM, installed: true }} /></ul></MemoryRouter>);
    expect(screen.getByText("Installed")).toBeTruthy();
    expect(screen.queryByRole("link", { name: /Install / })).toBeNull();
  });

  it("Can renders the fallback below the role", () => {
    signIn(token("operator"));
    render(<Can role="admin" otherwise={<p>no</p>}><p>yes</p></Can>);
    expect(screen.getByText("no")).toBeTruthy();
  });
});

describe("errors in plain words", () => {
  it("explains a connector's error class", () => {
    expect(explain({ error_class: "authentication" })).toMatch(/refused the credentials/);
    expect(explain({ error_class: "permission" })).toMatch(/lack a permission/);
    expect(explain({ error_class: "transient" })).toMatch(/could not be reached or is rate limiting/);
    expect(explain({ code: "insufficient_role" })).toMatch(/role does not allow/);
    expect(explain({ message: "other" })).toBe("other");
  });

  it("shows a problem+json error as an alert", () => {
    render(<ProblemMessage error={new ApiError(403, { code: "insufficient_role", title: "Forbidden" })} />);
    expect(screen.getByRole("alert").textContent).toMatch(/Forbidden.*role does not allow/);
  });
});

describe("small pieces", () => {
  it("formats relative times", () => {
    const now = Date.parse("2026-01-01T12:00:00Z");
    expect(relativeTime("2026-01-01T11:55:00Z", now)).toBe("5 minutes ago");
    expect(relativeTime("2026-01-01T11:59:58Z", now)).toBe("just now");
    expect(relativeTime("2025-12-31T12:00:00Z", now)).toBe("yesterday");
  });

  it("labels installation states the way users say them", () => {
    render(<><StatusBadge status="enabled" /><StatusBadge status="disabled" /><StatusBadge status="error" /></>);
    expect(screen.getByText("Active").className).toContain("badge-ok");
    expect(screen.getByText("Inactive")).toBeTruthy();
    expect(screen.getByText("error").className).toContain("badge-bad");
  });

  it("marks the current wizard step", () => {
    render(<Steps current={2} />);
    expect(screen.getByText(/Data mapping/).closest("li")?.getAttribute("aria-current")).toBe("step");
    expect(screen.getByText(/Credentials/).textContent).toMatch(/done/);
  });

  it("searches after the user pauses typing", () => {
    vi.useFakeTimers();
    const onSearch = vi.fn();
    render(<SearchBox value="" onSearch={onSearch} />);
    fireEvent.change(screen.getByLabelText("Search integrations"), { target: { value: "crowdstrik" } });
    expect(onSearch).not.toHaveBeenCalled();
    act(() => vi.advanceTimersByTime(300));
    expect(onSearch).toHaveBeenCalledWith("crowdstrik");
    vi.useRealTimers();
  });

  it("offers suggestions for the search text", () => {
    render(<SearchBox value="crowdstrke" onSearch={() => {}} suggestions={["CrowdStrike Falcon"]} />);
    const input = screen.getByLabelText("Search integrations");
    const list = document.getElementById(input.getAttribute("list") ?? "");
    expect(list?.querySelector("option")?.getAttribute("value")).toBe("CrowdStrike Falcon");
  });

  it("confirm dialog focuses Cancel and cancels on Escape", () => {
    const onCancel = vi.fn();
    const onConfirm = vi.fn();
    render(<ConfirmDialog title="Uninstall?" confirmLabel="Uninstall" onCancel={onCancel} onConfirm={onConfirm}>x</ConfirmDialog>);
    expect(document.activeElement?.textContent).toBe("Cancel");
    fireEvent.keyDown(screen.getByRole("alertdialog"), { key: "Escape" });
    expect(onCancel).toHaveBeenCalled();
    fireEvent.click(screen.getByRole("button", { name: "Uninstall" }));
    expect(onConfirm).toHaveBeenCalled();
  });
});

describe("mapping editor", () => {
  const stored = [
    { id: "m1", source_type: "alerts", target_entity: "risk", external_id: "id", origin: "connector",
      fields: { title: "name", status: { path: "status", map: { new: "open" } } } },
  ] as unknown as Mapping[];

  it("edits plain record paths and shows richer specs as they are", () => {
    let next: Mapping[] = stored;
    render(<MappingEditor mappings={stored} onChange={(m) => (next = m)} />);
    expect(screen.getByRole("table", { name: /alerts → risk \(connector default\)/ })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("title"), { target: { value: "tactic" } });
    expect(next[0].fields.title).toBe("tactic");
    expect(changedMappings(stored, next).map((m) => m.id)).toEqual(["m1"]);
    expect(screen.getByText(/"map"/).tagName).toBe("CODE");
  });
});
