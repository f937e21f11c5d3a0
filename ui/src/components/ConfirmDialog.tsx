import { useEffect, useId, useRef, type ReactNode } from "react";

/** A modal confirmation: focus starts on Cancel, Escape cancels. */
export function ConfirmDialog(props: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  onConfirm: () => void;
  onCancel: () => void;
  busy?: boolean;
}) {
  const id = useId();
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div className="overlay">
      <div
        role="alertdialog"
        aria-modal="true"
        aria-labelledby={`${id}-t`}
        aria-describedby={`${id}-d`}
        className="dialog"
        onKeyDown={(e) => e.key === "Escape" && props.onCancel()}
      >
        <h2 id={`${id}-t`}>{props.title}</h2>
        <div id={`${id}-d`}>{props.children}</div>
        <div className="actions">
          <button ref={cancel} type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="button" className="danger" onClick={props.onConfirm} disabled={props.busy}>
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}
