import type { IntegrationSummary } from "../../api/client";

export type QualityTier = IntegrationSummary["quality_tier"];

/** The tier a connector earned in the conformance suite, as a badge (unrated says so plainly). */
export function QualityBadge({ tier }: { tier: QualityTier }) {
  const label = tier === "unrated" ? "Unrated" : `${tier[0].toUpperCase()}${tier.slice(1)} tier`;
  return (
    <span className={`badge tier tier-${tier}`} title="Quality tier earned in ARIA's connector conformance tests">
      {label}
    </span>
  );
}
