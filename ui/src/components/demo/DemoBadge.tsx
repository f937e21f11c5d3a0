/** Marks a Try-demo installation: sample data from the vendor's simulator, not the organization's. */
export function DemoBadge() {
  return (
    <span className="badge badge-demo" title="Sample data from the vendor simulator: throw it away when done">
      Demo
    </span>
  );
}
