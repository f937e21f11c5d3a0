import type { IntegrationDetail } from "../../api/client";

/** What the connector publishes into ARIA: data types (each on its entity topic) and the vendor streams it reads. */
export function Publishes({ dataTypes, streams }: { dataTypes: IntegrationDetail["data_types"]; streams: IntegrationDetail["streams"] }) {
  return (
    <>
      <ul>
        {dataTypes.map((t) => (
          <li key={t}>
            <strong>{t}</strong> events on <code>aria.entity.{t}</code>
          </li>
        ))}
      </ul>
      {streams.length > 0 && <p className="small muted">Streams read from the vendor: {streams.join(", ")}</p>}
    </>
  );
}
