import type { ReactNode } from "react";
import { can, useSession, type Role } from "../auth/session";

/** Renders its children only for a role at least `role` (the API enforces the same rule). */
export function Can({ role, children, otherwise = null }: { role: Role; children: ReactNode; otherwise?: ReactNode }) {
  const session = useSession();
  return <>{can(session, role) ? children : otherwise}</>;
}
