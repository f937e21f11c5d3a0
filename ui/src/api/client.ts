// Typed clients for the public API behind the edge (same origin as the console), generated
// from the services' OpenAPI documents (src/api/<service>.d.ts, `npm run gen:api`).
import createClient, { type Middleware } from "openapi-fetch";
import type { paths as CatalogPaths, components as CatalogComponents } from "./catalog";
import type { paths as InstallerPaths, components as InstallerComponents } from "./installer";
import { getSession, signOut } from "../auth/session";

export type IntegrationSummary = CatalogComponents["schemas"]["IntegrationSummary"];
export type IntegrationDetail = CatalogComponents["schemas"]["IntegrationDetail"];
export type Facets = CatalogComponents["schemas"]["Facets"];
export type Installation = InstallerComponents["schemas"]["Installation"];
export type Preview = InstallerComponents["schemas"]["Preview"];
export type CredentialAuditEntry = InstallerComponents["schemas"]["CredentialAuditEntry"];
export type WebhookDelivery = InstallerComponents["schemas"]["WebhookDelivery"];

/** RFC 9457 problem+json as the services answer it (stable `code`). */
export interface Problem {
  status?: number;
  code?: string;
  title?: string;
  detail?: string | null;
  error_class?: string | null;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail || problem.title || `HTTP ${status}`);
  }
}

const auth: Middleware = {
  onRequest({ request }) {
    const session = getSession();
    if (session) request.headers.set("authorization", `Bearer ${session.token}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) signOut();
    return response;
  },
};

const baseUrl = typeof window !== "undefined" ? window.location.origin : "";
export const catalog = createClient<CatalogPaths>({ baseUrl });
export const installer = createClient<InstallerPaths>({ baseUrl });
catalog.use(auth);
installer.use(auth);

/** The data of an openapi-fetch result, or an ApiError carrying the problem. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok) throw new ApiError(response.status, (error ?? {}) as Problem);
  return data as T;
}
