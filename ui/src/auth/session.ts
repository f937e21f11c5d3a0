// The signed-in user: a bearer token (dev sign-in locally; OIDC in production) kept in
// sessionStorage for this tab only. Role and organization are read from the token's claims;
// the API enforces them, the console only shows or hides actions.
import { useSyncExternalStore } from "react";

export type Role = "viewer" | "operator" | "admin";
export interface Session {
  token: string;
  role: Role;
  orgId: string;
  subject: string;
}

const KEY = "aria.session";
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
const listeners = new Set<() => void>();

export function can(session: Session | null, needed: Role): boolean {
  return !!session && RANK[session.role] >= RANK[needed];
}

export function decodeClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  return JSON.parse(json);
}

export function sessionFromToken(token: string): Session {
  const claims = decodeClaims(token);
  const role = claims.role as Role;
  if (!(role in RANK)) throw new Error("token has no user role");
  return { token, role, orgId: String(claims.org_id), subject: String(claims.sub) };
}

let cached: { raw: string | null; session: Session | null } = { raw: null, session: null };

export function getSession(): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (raw !== cached.raw) {
    let session: Session | null = null;
    try {
      session = raw ? sessionFromToken(raw) : null;
    } catch {
      session = null;
    }
    cached = { raw, session };
  }
  return cached.session;
}

export function signIn(token: string): Session {
  const session = sessionFromToken(token);
  sessionStorage.setItem(KEY, token);
  listeners.forEach((l) => l());
  return session;
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
  listeners.forEach((l) => l());
}

export function useSession(): Session | null {
  return useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    getSession,
    getSession,
  );
}
