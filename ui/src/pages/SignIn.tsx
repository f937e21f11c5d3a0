import { useState } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { installer, unwrap } from "../api/client";
import { signIn, type Role } from "../auth/session";
import { ProblemMessage } from "../components/ProblemMessage";

const ROLES: { role: Role; what: string }[] = [
  { role: "viewer", what: "browse the marketplace and see installations" },
  { role: "operator", what: "also sync now and test connections" },
  { role: "admin", what: "also install, configure, enable, disable and uninstall" },
];

/** Local stack only: the installer's dev sign-in mints a token for the demo organization. */
export function SignIn() {
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<unknown>(null);
  const next = (location.state as { from?: string } | null)?.from ?? "/integrations";
  const go = async (role: Role) => {
    setError(null);
    try {
      const org = new URLSearchParams(location.search).get("org") ?? undefined;
      const result = await unwrap(installer.POST("/v1/dev/sign-in", { body: { role, org_id: org } }));
      signIn(result.access_token);
      navigate(next, { replace: true });
    } catch (e) {
      setError(e);
    }
  };
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <p>
        Local development sign-in for the demo organization. Production sign-in uses your organization's identity
        provider.
      </p>
      <ul className="plain">
        {ROLES.map(({ role, what }) => (
          <li key={role}>
            <button type="button" onClick={() => go(role)}>
              Sign in as {role}
            </button>{" "}
            <span className="muted">{what}</span>
          </li>
        ))}
      </ul>
      <ProblemMessage error={error} title="Sign-in failed" />
    </section>
  );
}
