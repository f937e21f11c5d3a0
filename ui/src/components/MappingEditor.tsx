import type { components } from "../api/installer";

export type Mapping = components["schemas"]["Mapping"];
export type MappingIn = components["schemas"]["MappingIn"];

/** What the API takes back for a mapping it returned. */
export function toMappingIn(m: Mapping): MappingIn {
  return {
    source_type: m.source_type,
    target_entity: m.target_entity,
    external_id: m.external_id,
    fields: m.fields as MappingIn["fields"],
    attributes: m.attributes,
    transformation_rules: m.transformation_rules as MappingIn["transformation_rules"],
    filter_rules: m.filter_rules as MappingIn["filter_rules"],
    priority: m.priority,
    active: m.active,
  };
}

/** The mappings whose fields differ from what is stored. */
export function changedMappings(stored: Mapping[], edited: Mapping[]): Mapping[] {
  return edited.filter((m) => JSON.stringify(m.fields) !== JSON.stringify(stored.find((s) => s.id === m.id)?.fields));
}

/**
 * The data mapping: for each vendor source, which record path fills which ARIA field. Plain
 * paths are editable; richer field specs (maps, defaults, lists) are shown as they are.
 */
export function MappingEditor({
  mappings,
  onChange,
  changed = [],
}: {
  mappings: Mapping[];
  onChange: (next: Mapping[]) => void;
  changed?: Mapping[];
}) {
  const setField = (id: string, field: string, path: string) =>
    onChange(mappings.map((m) => (m.id === id ? { ...m, fields: { ...m.fields, [field]: path } } : m)));
  return (
    <div className="mappings">
      {mappings.map((m) => (
        <table key={m.id}>
          <caption>
            {m.source_type} → {m.target_entity}
            {changed.some((c) => c.id === m.id) ? " (edited, not saved yet)" : m.origin === "connector" ? " (connector default)" : " (customized)"}
          </caption>
          <thead>
            <tr>
              <th scope="col">ARIA field</th>
              <th scope="col">Vendor record path</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(m.fields).map(([field, spec]) => {
              const id = `map-${m.id}-${field}`;
              return (
                <tr key={field}>
                  <th scope="row">
                    <label htmlFor={id}>{field}</label>
                  </th>
                  <td>
                    {typeof spec === "string" ? (
                      <input id={id} value={spec} onChange={(e) => setField(m.id, field, e.target.value)} />
                    ) : (
                      <code id={id} className="small">
                        {JSON.stringify(spec)}
                      </code>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ))}
    </div>
  );
}
