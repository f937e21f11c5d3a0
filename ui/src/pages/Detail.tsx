import { Link, useParams } from "react-router-dom";
import { useQuery } from "@tanstack/react-query";
import { catalog, unwrap } from "../api/client";
import { Can } from "../components/Can";
import { Rating } from "../components/IntegrationCard";
import { Reviews } from "../components/Reviews";
import { ProblemMessage } from "../components/ProblemMessage";
import { KeyFeatures } from "../components/catalog/KeyFeatures";
import { Publishes } from "../components/catalog/Publishes";
import { PushActions } from "../components/catalog/PushActions";
import { QualityBadge } from "../components/catalog/QualityBadge";
import { QualityCriteria } from "../components/catalog/QualityCriteria";
import { SetupFacts } from "../components/catalog/SetupFacts";
import { VersionHistory } from "../components/catalog/VersionHistory";
import { TryDemo } from "../components/demo/TryDemo";

function minutes(value: number | null | undefined): string {
  if (value == null) return "—";
  return value >= 60 ? `every ${Math.round(value / 60)} h` : `every ${Math.round(value)} min`;
}

export default function Detail() {
  const { key = "" } = useParams();
  const detail = useQuery({
    queryKey: ["integration", key],
    queryFn: () => unwrap(catalog.GET("/v1/integrations/{key}", { params: { path: { key } } })),
  });
  if (detail.error) return <ProblemMessage error={detail.error} title="Integration not available" />;
  if (!detail.data) return <p aria-busy="true">Loading…</p>;
  const d = detail.data;
  const usage = d.usage_stats;
  return (
    <article className="detail">
      <p>
        <Link to="/integrations">← Marketplace</Link>
      </p>
      <header className="detail-head">
        <span className="logo big" aria-hidden="true">
          {d.name.slice(0, 2)}
        </span>
        <div>
          <h1>{d.name}</h1>
          <p className="muted">
            {d.vendor}
            {d.product ? ` · ${d.product}` : ""} · {d.category} · v{d.version}
          </p>
          <p>
            <Rating value={d.average_rating} count={d.review_count} /> · {d.install_count} installs
            <QualityBadge tier={d.quality_tier} />
            {d.is_official && <span className="badge badge-ok">Official</span>}
            {d.is_beta && <span className="badge badge-warn">Beta</span>}
          </p>
        </div>
        <div className="detail-actions">
          {d.installed ? (
            <span className="badge badge-ok">Installed</span>
          ) : (
            <Can role="admin">
              <Link className="button primary" to={`/integrations/${d.key}/install`}>
                Configure &amp; Install
              </Link>
            </Can>
          )}
          <TryDemo integrationKey={d.key} name={d.name} />
          {d.documentation_url && (
            <a className="button" href={d.documentation_url} target="_blank" rel="noreferrer">
              Documentation
            </a>
          )}
        </div>
      </header>
      <section>
        <h2>Overview</h2>
        <p>{d.description}</p>
        <KeyFeatures features={d.key_features} />
        <p>
          Capabilities: {d.capabilities.map((c) => c.replace(/_/g, " ")).join(", ")}
          {d.supports_webhooks && " · takes vendor webhooks"}
        </p>
      </section>
      <section>
        <h2>What you get in ARIA</h2>
        <Publishes dataTypes={d.data_types} streams={d.streams} />
        <PushActions actions={d.push_actions} vendor={d.vendor} />
      </section>
      <section>
        <h2>Before you install</h2>
        <SetupFacts d={d} />
        {d.documentation_url && (
          <p className="small">
            Vendor setup steps: <a href={d.documentation_url}>{d.name} documentation</a>
          </p>
        )}
      </section>
      <section>
        <h2>Configuration requirements</h2>
        <table>
          <thead>
            <tr>
              <th scope="col">Field</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">Stored</th>
            </tr>
          </thead>
          <tbody>
            {d.configuration_requirements.map((f) => (
              <tr key={f.field}>
                <td>
                  {f.title} <code className="small">{f.field}</code>
                </td>
                <td>{f.format ?? f.type}</td>
                <td>{f.required ? "yes" : "no"}</td>
                <td>{f.secret ? "in the vault (secret)" : "settings"}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="small">Authentication: {d.auth_methods.join(", ").replace(/_/g, " ")}</p>
      </section>
      <section className="two">
        <div>
          <h2>Pricing</h2>
          <p>
            {(d.pricing_model ?? "not stated").replace(/_/g, " ")}
            {d.license_required && " · a vendor license is required"}
          </p>
        </div>
        <div>
          <h2>Usage (last {usage.window_days} days)</h2>
          <dl className="stats">
            <dt>Active installations</dt>
            <dd>{usage.active_installations}</dd>
            <dt>Typical sync cadence</dt>
            <dd>{minutes(usage.sync_interval_minutes)}</dd>
            <dt>Success rate</dt>
            <dd>{usage.success_rate_pct == null ? "—" : `${usage.success_rate_pct} %`}</dd>
          </dl>
        </div>
      </section>
      <section>
        <h2>Quality</h2>
        <QualityCriteria tier={d.quality_tier} criteria={d.quality_criteria} />
      </section>
      <Reviews integrationKey={d.key} />
      <VersionHistory integrationKey={d.key} />
    </article>
  );
}
