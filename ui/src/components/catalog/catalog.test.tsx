import { describe, expect, it } from "vitest";
import { render, screen, within } from "@testing-library/react";
import { KeyFeatures } from "./KeyFeatures";
import { Publishes } from "./Publishes";
import { PushActions } from "./PushActions";
import { QualityBadge } from "./QualityBadge";
import { QualityCriteria } from "./QualityCriteria";
import { SetupFacts } from "./SetupFacts";
import { VersionList } from "./VersionHistory";
import { FacetList } from "../FacetList";

const USAGE = {
  window_days: 30, active_installations: 0, calls_per_day: null, sync_interval_minutes: null,
  average_sync_duration_ms: null, records_synced_per_day: null, error_rate: null, success_rate_pct: null,
  average_setup_time_s: null, setup_installations: 0,
};

describe("quality tier", () => {
  it("shows the earned tier as a badge", () => {
    render(<><QualityBadge tier="gold" /><QualityBadge tier="unrated" /></>);
    expect(screen.getByText("Gold tier").className).toContain("tier-gold");
    expect(screen.getByText("Unrated").className).toContain("tier-unrated");
  });

  it("lists the criteria the catalog reports, in plain words", () => {
    render(<QualityCriteria tier="silver" criteria={{ rate_limits: "pass", push: "n/a", replay: "fail" }} />);
    expect(screen.getByText("Silver tier")).toBeTruthy();
    const list = screen.getByRole("list", { name: "Conformance criteria" });
    expect(within(list).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      "rate limits: passed", "push: not applicable", "replay: failed",
    ]);
  });

  it("says when a connector was never tested", () => {
    render(<QualityCriteria tier="unrated" criteria={{}} />);
    expect(screen.getByText("Not yet tested.")).toBeTruthy();
  });

  it("is a facet like the others", () => {
    const facets = { total: 3, category: [], capability: [], data_type: [], auth_method: [], pricing_model: [],
                     quality_tier: [{ value: "gold", count: 1 }, { value: "unrated", count: 2 }] };
    const toggled: string[] = [];
    render(<FacetList legend="Quality tier" dimension="quality_tier" facets={facets} selected={["gold"]}
                      onToggle={(d, v) => toggled.push(`${d}=${v}`)} />);
    const group = screen.getByRole("group", { name: "Quality tier" });
    expect((within(group).getByRole("checkbox", { name: "gold 1" }) as HTMLInputElement).checked).toBe(true);
    within(group).getByRole("checkbox", { name: "unrated 2" }).click();
    expect(toggled).toEqual(["quality_tier=unrated"]);
  });
});

describe("what the connector does", () => {
  it("lists key features, or nothing without them", () => {
    const { container, rerender } = render(<KeyFeatures features={["Alerts as risks", "Hosts as assets"]} />);
    expect(screen.getByRole("heading", { name: "Key features" })).toBeTruthy();
    expect(screen.getAllByRole("listitem").map((li) => li.textContent)).toEqual(["Alerts as risks", "Hosts as assets"]);
    rerender(<KeyFeatures features={[]} />);
    expect(container.textContent).toBe("");
  });

  it("says what it publishes and from which streams", () => {
    render(<Publishes dataTypes={["asset", "risk"]} streams={["alerts", "hosts"]} />);
    expect(screen.getByText("aria.entity.risk")).toBeTruthy();
    expect(screen.getByText("Streams read from the vendor: alerts, hosts")).toBeTruthy();
  });

  it("lists push actions, or says it only reads", () => {
    const { rerender } = render(
      <PushActions vendor="Jira" actions={[{ name: "create_issue", kind: "create_ticket", input: "risk", description: "Opens an issue." }]} />,
    );
    const table = screen.getByRole("table", { name: "Actions ARIA can send to Jira" });
    expect(within(table).getByRole("row", { name: /create_issue/ }).textContent).toMatch(/create ticket.*risk/);
    rerender(<PushActions vendor="Qualys" actions={[]} />);
    expect(screen.getByText(/Read only: ARIA sends nothing to Qualys/)).toBeTruthy();
  });
});

describe("before you install", () => {
  it("shows the expected setup time next to the measured average, and the permissions", () => {
    render(<SetupFacts d={{ setup_minutes: 15, required_permissions: ["Alerts: Read", "Hosts: Read"],
                            usage_stats: { ...USAGE, average_setup_time_s: 842.5, setup_installations: 40 } }} />);
    expect(screen.getByText("about 15 min")).toBeTruthy();
    expect(screen.getByText("14 min over 40 installations")).toBeTruthy();
    const perms = screen.getByRole("list", { name: "Required permissions" });
    expect(within(perms).getAllByRole("listitem").map((li) => li.textContent)).toEqual(["Alerts: Read", "Hosts: Read"]);
  });

  it("says when nothing is known yet", () => {
    render(<SetupFacts d={{ setup_minutes: null, required_permissions: [], usage_stats: USAGE }} />);
    expect(screen.getByText("not stated")).toBeTruthy();
    expect(screen.getByText("no installation has completed setup yet")).toBeTruthy();
    expect(screen.getByText(/does not list vendor permissions/)).toBeTruthy();
  });
});

describe("version history", () => {
  it("says each change in words, newest first", () => {
    render(
      <VersionList
        items={[
          { id: 3, change: "version_changed", version: "1.1.0", previous_version: "1.0.0", recorded_at: "2026-01-02T00:00:00Z" },
          { id: 1, change: "added", version: "1.0.0", previous_version: null, recorded_at: "2026-01-01T00:00:00Z" },
        ]}
      />,
    );
    const items = screen.getByRole("list", { name: "Version history" }).querySelectorAll("li");
    expect(items[0].textContent).toMatch(/^v1\.1\.0 \(was v1\.0\.0\)/);
    expect(items[1].textContent).toMatch(/^v1\.0\.0 added to the marketplace/);
  });

  it("says when nothing is recorded", () => {
    render(<VersionList items={[]} />);
    expect(screen.getByText("No version history recorded.")).toBeTruthy();
  });
});
