const TONE: Record<string, string> = {
  enabled: "ok",
  healthy: "ok",
  completed: "ok",
  running: "info",
  pending: "info",
  configuring: "info",
  disabled: "muted",
  unknown: "muted",
  suspended: "warn",
  degraded: "warn",
  error: "bad",
  failed: "bad",
  unhealthy: "bad",
};

const LABEL: Record<string, string> = { enabled: "Active", disabled: "Inactive" };

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  const tone = TONE[status] ?? "muted";
  return <span className={`badge badge-${tone}`}>{label ?? LABEL[status] ?? status.replace(/_/g, " ")}</span>;
}
