import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/react";
import { RecordsSynced } from "./RecordsSynced";

describe("records synced", () => {
  it("shows the sum, then each entity type largest first", () => {
    const { container } = render(<RecordsSynced counts={{ asset: 12, risk: 1200 }} />);
    expect(container.querySelector("strong")?.textContent).toBe("1,212");
    const items = screen.getByRole("list", { name: "Records synced per entity type" }).querySelectorAll("li");
    expect([...items].map((li) => li.textContent)).toEqual(["risk 1,200", "asset 12"]);
  });

  it("shows a dash before the first sync", () => {
    render(<RecordsSynced counts={{}} />);
    expect(screen.getByText("—")).toBeTruthy();
    expect(screen.queryByRole("list")).toBeNull();
  });
});
