import { StrictMode, Suspense, lazy, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router-dom";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { ApiError } from "./api/client";
import { useSession } from "./auth/session";
import { Layout } from "./components/Layout";
import { Home } from "./pages/Home";
import { SignIn } from "./pages/SignIn";
import "./styles.css";

// Pages past the home page load on demand (the wizard carries the JSON-Schema form library).
const Detail = lazy(() => import("./pages/Detail"));
const Installed = lazy(() => import("./pages/Installed"));
const Wizard = lazy(() => import("./pages/Wizard"));
const Logs = lazy(() => import("./pages/Logs"));

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 15_000,
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
});

function SignedIn({ children }: { children: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  if (!session) return <Navigate to="/sign-in" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route path="/sign-in" element={<SignIn />} />
        <Route
          path="/integrations/*"
          element={
            <SignedIn>
              <Suspense fallback={<p aria-busy="true">Loading…</p>}>
                <Routes>
                  <Route index element={<Home />} />
                  <Route path="installed" element={<Installed />} />
                  <Route path="installed/:id/logs" element={<Logs />} />
                  <Route path=":key" element={<Detail />} />
                  <Route path=":key/install" element={<Wizard />} />
                </Routes>
              </Suspense>
            </SignedIn>
          }
        />
        <Route path="*" element={<Navigate to="/integrations" replace />} />
      </Route>
    </Routes>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <BrowserRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
        <App />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
