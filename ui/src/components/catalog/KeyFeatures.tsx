/** What the connector does, a line each (from its manifest). */
export function KeyFeatures({ features }: { features: string[] }) {
  if (features.length === 0) return null;
  return (
    <>
      <h3>Key features</h3>
      <ul>
        {features.map((f) => (
          <li key={f}>{f}</li>
        ))}
      </ul>
    </>
  );
}
