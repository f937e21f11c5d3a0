import type { IntegrationDetail } from "../../api/client";

/** Outbound actions: what ARIA can send to the vendor (name, kind, the entity it takes). */
export function PushActions({ actions, vendor }: { actions: IntegrationDetail["push_actions"]; vendor: string }) {
  if (actions.length === 0) return <p className="small">Read only: ARIA sends nothing to {vendor} through this connector.</p>;
  return (
    <table>
      <caption>Actions ARIA can send to {vendor}</caption>
      <thead>
        <tr>
          <th scope="col">Action</th>
          <th scope="col">Kind</th>
          <th scope="col">Takes</th>
        </tr>
      </thead>
      <tbody>
        {actions.map((a) => (
          <tr key={a.name}>
            <td>
              <code>{a.name}</code>
              {a.description && <div className="small muted">{a.description}</div>}
            </td>
            <td>{a.kind.replace(/_/g, " ")}</td>
            <td>{a.input ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
