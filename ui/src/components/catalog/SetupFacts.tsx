import type { IntegrationDetail } from "../../api/client";

/** Expected setup time (the manifest's) next to the measured one, and the vendor permissions the credential needs. */
export function SetupFacts({ d }: { d: Pick<IntegrationDetail, "setup_minutes" | "required_permissions" | "usage_stats"> }) {
  const measured = d.usage_stats.average_setup_time_s;
  const over = d.usage_stats.setup_installations;
  return (
    <>
      <dl className="stats">
        <dt>Expected setup time</dt>
        <dd>{d.setup_minutes == null ? "not stated" : `about ${d.setup_minutes} min`}</dd>
        <dt>Measured average</dt>
        <dd>
          {measured == null
            ? "no installation has completed setup yet"
            : `${Math.max(1, Math.round(measured / 60))} min over ${over} installation${over === 1 ? "" : "s"}`}
        </dd>
      </dl>
      <h3>Required permissions</h3>
      {d.required_permissions.length === 0 ? (
        <p className="small">The connector does not list vendor permissions.</p>
      ) : (
        <ul aria-label="Required permissions">
          {d.required_permissions.map((p) => (
            <li key={p}>{p}</li>
          ))}
        </ul>
      )}
    </>
  );
}
