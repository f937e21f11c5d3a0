import { ApiError, type Problem } from "../api/client";

// A connector's classified error (aria_connectors.errors.ErrorClass) in plain words.
const CLASSES: Record<string, string> = {
  authentication: "The vendor refused the credentials. Check the client ID and secret.",
  permission: "The credentials work but lack a permission this integration needs. Grant the listed scopes.",
  transient: "The vendor could not be reached or is rate limiting. Check the URL and try again in a moment.",
  configuration: "The configuration is not valid for this vendor (for example the base URL).",
  permanent: "The vendor answered with an error this integration cannot recover from.",
};

const CODES: Record<string, string> = {
  insufficient_role: "Your role does not allow this action.",
  not_found: "Not found (it may have been removed, or belong to another organization).",
  config_invalid: "Some settings are not valid.",
  invalid_state_transition: "That is not possible in the installation's current state.",
  vault_unavailable: "The credential vault is unavailable; nothing was saved. Try again shortly.",
};

export function explain(error: { error_class?: string | null; code?: string; message?: string | null }): string {
  if (error.error_class && CLASSES[error.error_class]) return CLASSES[error.error_class];
  if (error.code && CODES[error.code]) return CODES[error.code];
  return error.message || "Something went wrong.";
}

export function ProblemMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  let problem: Problem & { message?: string } = {};
  if (error instanceof ApiError) problem = { ...error.problem, message: error.message };
  else if (error instanceof Error) problem = { message: error.message };
  else if (typeof error === "object") problem = error as Problem;
  return (
    <div role="alert" className="alert alert-bad">
      <strong>{title ?? problem.title ?? "Error"}</strong>
      <p>{explain(problem)}</p>
      {problem.detail && <p className="small">Details: {problem.detail}</p>}
    </div>
  );
}
