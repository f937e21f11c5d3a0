import { describe, expect, it } from "vitest";
import { can, getSession, signIn, signOut } from "./session";

const token = (claims: object) => `e30.${btoa(JSON.stringify(claims)).replace(/=+$/, "")}.sig`;

describe("session", () => {
  it("reads role and organization from the token", () => {
    const s = signIn(token({ sub: "dev-operator", org_id: "o1", role: "operator" }));
    expect(s).toMatchObject({ role: "operator", orgId: "o1", subject: "dev-operator" });
    expect(getSession()?.role).toBe("operator");
    expect(can(s, "viewer")).toBe(true);
    expect(can(s, "operator")).toBe(true);
    expect(can(s, "admin")).toBe(false);
    signOut();
    expect(getSession()).toBeNull();
    expect(can(null, "viewer")).toBe(false);
  });

  it("refuses a service token (no user role)", () => {
    expect(() => signIn(token({ sub: "service:x", svc: "x" }))).toThrow();
  });
});
