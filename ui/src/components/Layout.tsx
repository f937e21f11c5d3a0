import { Link, NavLink, Outlet } from "react-router-dom";
import { signOut, useSession } from "../auth/session";

export function Layout() {
  const session = useSession();
  return (
    <>
      <a href="#main" className="skip">
        Skip to content
      </a>
      <header className="top">
        <Link to="/integrations" className="brand">
          ARIA Marketplace
        </Link>
        <nav aria-label="Main">
          <NavLink to="/integrations" end>
            Marketplace
          </NavLink>
          <NavLink to="/integrations/installed">My integrations</NavLink>
        </nav>
        {session && (
          <div className="who">
            <span>
              {session.subject} · <strong>{session.role}</strong>
            </span>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </div>
        )}
      </header>
      <main id="main">
        <Outlet />
      </main>
    </>
  );
}
