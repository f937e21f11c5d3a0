import type { ReactNode } from "react";

/** A log's table: a caption for screen readers, one header per column, the rows as children. */
export function LogTable({ caption, columns, children }: { caption: string; columns: string[]; children: ReactNode }) {
  return (
    <table>
      <caption className="sr-only">{caption}</caption>
      <thead>
        <tr>
          {columns.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}
