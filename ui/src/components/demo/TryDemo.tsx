import { Link, useNavigate } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { installer, unwrap } from "../../api/client";
import { Can } from "../Can";
import { ProblemMessage } from "../ProblemMessage";

/** Try demo: shown only where the installer has a simulator for the integration (the local stack).
 * Opens the organization's demo installation (admin), or links to the one already open. */
export function TryDemo({ integrationKey, name }: { integrationKey: string; name: string }) {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const demos = useQuery({
    queryKey: ["demos"],
    queryFn: () => unwrap(installer.GET("/v1/installations/demos")),
    staleTime: 60_000,
  });
  const installations = useQuery({
    queryKey: ["installations"],
    queryFn: () => unwrap(installer.GET("/v1/installations", { params: { query: { limit: 200 } } })),
    enabled: !!demos.data?.integration_keys.includes(integrationKey),
  });
  const open = useMutation({
    mutationFn: () => unwrap(installer.POST("/v1/installations/demos", { body: { integration_key: integrationKey } })),
    onSuccess: () => {
      queryClient.invalidateQueries({ queryKey: ["installations"] });
      navigate("/integrations/installed");
    },
  });
  if (!demos.data?.integration_keys.includes(integrationKey)) return null;
  const current = installations.data?.items.find((i) => i.demo && i.integration_key === integrationKey);
  return (
    <>
      <TryDemoView name={name} open={!!current} busy={open.isPending} onTry={() => open.mutate()} />
      <ProblemMessage error={open.error} title="The demo could not be opened" />
    </>
  );
}

/** "Open demo" when the organization has one open, else "Try demo" for admins. */
export function TryDemoView({ name, open, busy, onTry }: { name: string; open: boolean; busy: boolean; onTry: () => void }) {
  if (open)
    return (
      <Link className="button" to="/integrations/installed">
        Open demo
      </Link>
    );
  return (
    <Can role="admin">
      <button type="button" onClick={onTry} disabled={busy} aria-describedby="try-demo-help">
        {busy ? "Opening demo…" : "Try demo"}
      </button>
      <span id="try-demo-help" className="sr-only">
        A sandbox {name} installation against its simulator, with sample data
      </span>
    </Can>
  );
}
