/** Records synced (the installer's totals per entity type, from sync-runner's job outcomes): the
 * sum, then each entity type, largest first. */
export function RecordsSynced({ counts }: { counts: Record<string, number> }) {
  const entries = Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
  if (entries.length === 0) return <span>—</span>;
  const total = entries.reduce((n, [, count]) => n + count, 0);
  return (
    <>
      <strong>{total.toLocaleString("en")}</strong>
      <ul className="inline-list" aria-label="Records synced per entity type">
        {entries.map(([type, n]) => (
          <li key={type}>
            {type} {n.toLocaleString("en")}
          </li>
        ))}
      </ul>
    </>
  );
}
