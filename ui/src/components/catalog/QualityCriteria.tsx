import type { IntegrationDetail } from "../../api/client";
import { QualityBadge } from "./QualityBadge";

const OUTCOME: Record<string, string> = { pass: "passed", fail: "failed", "n/a": "not applicable" };

/** The earned tier and the conformance criteria behind it, as the catalog reports them. */
export function QualityCriteria(props: { tier: IntegrationDetail["quality_tier"]; criteria: IntegrationDetail["quality_criteria"] }) {
  const { tier, criteria } = props;
  const entries = Object.entries(criteria);
  return (
    <div>
      <p>
        <QualityBadge tier={tier} />
      </p>
      <p className="small muted">
        Tiers are earned, not declared: ARIA runs every connector through its conformance tests against recorded
        vendor responses. Bronze, silver and gold each need more of these criteria to pass; “not applicable” marks a
        capability the connector does not have.
      </p>
      {entries.length === 0 ? (
        <p className="small">Not yet tested.</p>
      ) : (
        <ul className="criteria" aria-label="Conformance criteria">
          {entries.map(([name, outcome]) => (
            <li key={name} className={`criterion criterion-${outcome === "n/a" ? "na" : outcome}`}>
              {name.replace(/_/g, " ")}: <strong>{OUTCOME[outcome] ?? outcome}</strong>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
