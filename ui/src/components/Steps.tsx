export const WIZARD_STEPS = ["Choose integration", "Credentials", "Data mapping", "Test & activate"];

/** The wizard's progress: done, current (aria-current) and upcoming steps. */
export function Steps({ current, steps = WIZARD_STEPS }: { current: number; steps?: string[] }) {
  return (
    <ol className="steps" aria-label="Setup steps">
      {steps.map((label, i) => (
        <li key={label} className={i < current ? "done" : i === current ? "current" : ""} aria-current={i === current ? "step" : undefined}>
          <span className="n">{i + 1}</span> {label}
          {i < current && <span className="sr-only"> (done)</span>}
        </li>
      ))}
    </ol>
  );
}
