import type { Facets } from "../api/client";

type Dimension = "category" | "capability" | "pricing_model" | "quality_tier";

/** One facet dimension: each value with its count, toggled on and off. */
export function FacetList(props: {
  legend: string;
  dimension: Dimension;
  facets: Facets | undefined;
  selected: string[];
  onToggle: (dimension: Dimension, value: string) => void;
}) {
  const values = props.facets?.[props.dimension] ?? [];
  return (
    <fieldset className="facet">
      <legend>{props.legend}</legend>
      {values.length === 0 && <p className="muted small">None</p>}
      {values.map((v) => {
        const id = `${props.dimension}-${v.value}`;
        return (
          <div key={v.value} className="facet-value">
            <input
              type="checkbox"
              id={id}
              checked={props.selected.includes(v.value)}
              onChange={() => props.onToggle(props.dimension, v.value)}
            />
            <label htmlFor={id}>
              {v.value.replace(/_/g, " ")} <span className="count">{v.count}</span>
            </label>
          </div>
        );
      })}
    </fieldset>
  );
}
