import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Form from "@rjsf/core";
import validator from "@rjsf/validator-ajv8";
import type { RJSFSchema } from "@rjsf/utils";
import { catalog, installer, unwrap, type Preview } from "../api/client";
import { Can } from "../components/Can";
import { ProblemMessage, explain } from "../components/ProblemMessage";
import { Steps } from "../components/Steps";
import { WebhookPanel } from "../components/WebhookPanel";
import { MappingEditor, changedMappings, toMappingIn, type Mapping } from "../components/MappingEditor";
import { formSchema, uiSchemaFor, withoutSecrets } from "../wizard/schemaUi";

type TestResult = { ok: boolean; message: string; error_class?: string | null; latency_ms?: number };
// A test is for exactly what was typed: any change asks for a new one.
const canonical = (c: Record<string, unknown>) =>
  JSON.stringify(Object.entries(c).filter(([, v]) => v !== undefined && v !== "").sort(([a], [b]) => a.localeCompare(b)));
const sameConfig = (a: Record<string, unknown>, b: Record<string, unknown>) => canonical(a) === canonical(b);
const FREQUENCIES = ["hourly", "daily", "weekly", "manual"] as const;

function PreviewTable({ preview }: { preview: Preview }) {
  const types = Object.keys(preview.counts);
  return (
    <div>
      <p>
        A dry run read {Object.values(preview.pages).reduce((a, b) => a + b, 0)} page(s) from the vendor; nothing was
        published.
      </p>
      <table>
        <caption>Records per entity type</caption>
        <thead>
          <tr>
            <th scope="col">Entity type</th>
            <th scope="col">Records</th>
            <th scope="col">Sample</th>
          </tr>
        </thead>
        <tbody>
          {types.map((t) => {
            const sample = preview.samples[t]?.[0] as Record<string, unknown> | undefined;
            const data = (sample?.data ?? sample ?? {}) as Record<string, unknown>;
            return (
              <tr key={t}>
                <th scope="row">{t}</th>
                <td>{preview.counts[t]}</td>
                <td className="small">
                  <code>{String(data.title ?? data.hostname ?? data.name ?? data.external_id ?? "—")}</code>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {preview.record_errors.length > 0 && <p>{preview.record_errors.length} record(s) could not be mapped.</p>}
    </div>
  );
}

export default function Wizard() {
  const { key = "" } = useParams();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [step, setStep] = useState(1);
  const [formData, setFormData] = useState<Record<string, unknown>>({});
  const [installationId, setInstallationId] = useState<string | null>(null);
  const [test, setTest] = useState<TestResult | null>(null);
  const [tested, setTested] = useState<Record<string, unknown> | null>(null);
  const [frequency, setFrequency] = useState<(typeof FREQUENCIES)[number]>("hourly");
  const [syncNow, setSyncNow] = useState(true);
  const [edited, setEdited] = useState<Mapping[] | null>(null);

  const detail = useQuery({
    queryKey: ["integration", key],
    queryFn: () => unwrap(catalog.GET("/v1/integrations/{key}", { params: { path: { key } } })),
  });
  const schema = detail.data?.config_schema as RJSFSchema | undefined;
  const uiSchema = useMemo(() => uiSchemaFor(schema as never), [schema]);
  const cleanSchema = useMemo(() => (schema ? formSchema(schema) : undefined), [schema]);

  // Test before saving: the installation draft is created (idempotent: an existing installation
  // comes back), then the typed configuration is tested once; nothing is stored until Next.
  const testConnection = useMutation({
    mutationFn: async (config: Record<string, unknown>) => {
      setTest(null);
      const inst = await unwrap(installer.POST("/v1/installations", { body: { integration_key: key } }));
      setInstallationId(inst.id);
      return unwrap(
        installer.POST("/v1/installations/{installation_id}/test-configuration", {
          params: { path: { installation_id: inst.id } },
          body: { config },
        }),
      );
    },
    onSuccess: (result) => setTest(result),
  });
  // Next: save the configuration that passed (secrets go to the vault through the installer).
  const save = useMutation({
    mutationFn: (id?: string) =>
      unwrap(
        installer.PUT("/v1/installations/{installation_id}/configuration", {
          params: { path: { installation_id: id ?? installationId! } },
          body: { config: formData, sync_frequency: frequency },
        }),
      ),
    onSuccess: () => goTo(2),
  });
  // The installation's data mappings (the connector's defaults at first), edited here and
  // previewed unsaved; saved when the user activates.
  const stored = useQuery({
    queryKey: ["mappings", installationId],
    queryFn: () =>
      unwrap(installer.GET("/v1/installations/{installation_id}/mappings", { params: { path: { installation_id: installationId! } } })),
    enabled: !!installationId && step >= 2,
  });
  const mappings = edited ?? stored.data ?? [];
  const changed = stored.data ? changedMappings(stored.data, mappings) : [];
  const preview = useMutation({
    mutationFn: () =>
      unwrap(
        installer.POST("/v1/installations/{installation_id}/preview", {
          params: { path: { installation_id: installationId! } },
          body: { max_pages: 1, mappings: changed.length ? mappings.map(toMappingIn) : undefined },
        }),
      ),
  });
  const canSyncNow = detail.data?.capabilities.includes("sync") ?? false;
  const activate = useMutation({
    mutationFn: async () => {
      const path = { installation_id: installationId! };
      await unwrap(
        installer.PUT("/v1/installations/{installation_id}/sync-settings", {
          params: { path },
          body: { sync_frequency: frequency, auto_sync: frequency !== "manual" },
        }),
      );
      for (const m of changed)
        await unwrap(
          installer.PUT("/v1/installations/{installation_id}/mappings/{mapping_id}", {
            params: { path: { ...path, mapping_id: m.id } },
            body: toMappingIn(m),
          }),
        );
      const current = await unwrap(installer.GET("/v1/installations/{installation_id}", { params: { path } }));
      if (current.status !== "enabled")
        await unwrap(installer.POST("/v1/installations/{installation_id}/enable", { params: { path } }));
      if (syncNow && canSyncNow) await unwrap(installer.POST("/v1/installations/{installation_id}/sync", { params: { path }, body: { sync_type: "incremental" } }));
    },
    onSuccess: async () => {
      await queryClient.invalidateQueries();
      navigate("/integrations/installed");
    },
  });

  const goTo = (next: number) => {
    // Back and forward keep what was typed, except secrets.
    setFormData((data) => withoutSecrets(data, schema as never));
    setStep(next);
  };

  if (detail.error) return <ProblemMessage error={detail.error} title="Integration not available" />;
  if (!detail.data || !cleanSchema) return <p aria-busy="true">Loading…</p>;
  const d = detail.data;
  // Webhook-only integrations (no vendor API to call) have no connection test, preview or sync.
  const canTest = d.capabilities.includes("test_connection");
  const canSync = d.capabilities.includes("sync");

  return (
    <Can role="admin" otherwise={<ProblemMessage error={{ code: "insufficient_role" }} title="Admins only" />}>
      <section className="wizard">
        <p>
          <Link to={`/integrations/${key}`}>← {d.name}</Link>
        </p>
        <h1>Set up {d.name}</h1>
        <Steps current={step} />

        {step === 1 && (
          <div>
            <h2>Credentials</h2>
            <p className="small">
              Nothing is saved until the connection test passes and you go on. Secret fields go to the vault and
              are never shown again.
              {d.documentation_url && (
                <>
                  {" "}
                  <a href={d.documentation_url} target="_blank" rel="noreferrer">
                    Where to find these
                  </a>
                </>
              )}
            </p>
            <Form
              schema={cleanSchema}
              uiSchema={uiSchema}
              formData={formData}
              validator={validator}
              onChange={(e) => setFormData(e.formData)}
              onSubmit={async (e) => {
                if (!canTest) {
                  // Nothing to test against: save once the form is valid.
                  const inst = await unwrap(installer.POST("/v1/installations", { body: { integration_key: key } }));
                  setInstallationId(inst.id);
                  save.mutate(inst.id);
                  return;
                }
                setTested(e.formData);
                testConnection.mutate(e.formData);
              }}
              showErrorList={false}
              noHtml5Validate
              idPrefix="cfg"
            >
              <div className="actions">
                {!canTest && (
                  <button type="submit" className="primary" disabled={save.isPending}>
                    {save.isPending ? "Saving…" : "Save and continue"}
                  </button>
                )}
                {canTest && (
                  <button type="submit" disabled={testConnection.isPending}>
                    {testConnection.isPending ? "Testing…" : "Test connection"}
                  </button>
                )}
                {canTest && <button
                  type="button"
                  className="primary"
                  disabled={!test?.ok || !tested || !sameConfig(tested, formData) || save.isPending}
                  onClick={() => save.mutate(undefined)}
                >
                  {save.isPending ? "Saving…" : "Next: data mapping"}
                </button>}
              </div>
            </Form>
            <div aria-live="polite">
              {test?.ok && (
                <div role="status" className="alert alert-ok">
                  <strong>Connection works.</strong> {test.message}
                  {test.latency_ms != null && ` (${Math.round(test.latency_ms)} ms)`}
                </div>
              )}
              {test && !test.ok && (
                <div role="alert" className="alert alert-bad">
                  <strong>Connection failed.</strong>
                  <p>{explain({ error_class: test.error_class, message: test.message })}</p>
                  <p className="small">Vendor said: {test.message}</p>
                </div>
              )}
              <ProblemMessage error={testConnection.error} title="Could not test the connection" />
              <ProblemMessage error={save.error} title="Could not save the configuration" />
            </div>
          </div>
        )}

        {step === 2 && (
          <div>
            <h2>Data mapping</h2>
            <p>
              The connector's default mapping turns vendor records into ARIA {d.data_types.join(", ")} events. Change
              a record path if your tenant differs, then preview what a sync would produce (nothing is saved):
            </p>
            {mappings.length > 0 && <MappingEditor mappings={mappings} onChange={setEdited} changed={changed} />}
            {changed.length > 0 && (
              <p className="small" role="status">
                {changed.length} mapping(s) edited: the preview uses them; they are saved when you activate.
              </p>
            )}
            {canSync ? (
              <button type="button" onClick={() => preview.mutate()} disabled={preview.isPending}>
                {preview.isPending ? "Running dry run…" : "Preview sample events"}
              </button>
            ) : (
              <p>This integration receives its data by webhooks: events are mapped as they arrive.</p>
            )}
            {preview.data && <PreviewTable preview={preview.data} />}
            <ProblemMessage error={preview.error} title="Preview failed" />
            <div className="actions">
              <button type="button" onClick={() => goTo(1)}>
                Back
              </button>
              <button type="button" className="primary" onClick={() => goTo(3)}>
                Next: test &amp; activate
              </button>
            </div>
          </div>
        )}

        {step === 3 && (
          <div>
            <h2>Test &amp; activate</h2>
            <label htmlFor="freq">Sync schedule</label>
            <select id="freq" value={frequency} onChange={(e) => setFrequency(e.target.value as typeof frequency)}>
              {FREQUENCIES.map((f) => (
                <option key={f} value={f}>
                  {f}
                </option>
              ))}
            </select>
            {canSync && (
              <div className="facet-value">
                <input id="syncnow" type="checkbox" checked={syncNow} onChange={(e) => setSyncNow(e.target.checked)} />
                <label htmlFor="syncnow">Run a first sync now</label>
              </div>
            )}
            {d.supports_webhooks && installationId && <WebhookPanel installationId={installationId} />}
            <ProblemMessage error={activate.error} title="Could not activate" />
            <div className="actions">
              <button type="button" onClick={() => goTo(2)}>
                Back
              </button>
              <button type="button" className="primary" onClick={() => activate.mutate()} disabled={activate.isPending}>
                {activate.isPending ? "Activating…" : "Activate"}
              </button>
            </div>
          </div>
        )}
      </section>
    </Can>
  );
}
