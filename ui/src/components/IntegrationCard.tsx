import { Link } from "react-router-dom";
import type { IntegrationSummary } from "../api/client";
import { Can } from "./Can";
import { QualityBadge } from "./catalog/QualityBadge";

export function Rating({ value, count }: { value: number; count: number }) {
  return (
    <span className="rating" aria-label={`Rated ${value.toFixed(1)} out of 5 from ${count} reviews`}>
      ★ {value.toFixed(1)} <span className="muted">({count})</span>
    </span>
  );
}

export function IntegrationCard({ item }: { item: IntegrationSummary }) {
  return (
    <li className="card">
      <div className="card-head">
        <span className="logo" aria-hidden="true">
          {item.name.slice(0, 2)}
        </span>
        <div>
          <h3>
            <Link to={`/integrations/${item.key}`}>{item.name}</Link>
          </h3>
          <p className="muted small">
            {item.vendor} · {item.category}
            <QualityBadge tier={item.quality_tier} />
          </p>
        </div>
      </div>
      <p className="desc">{item.description}</p>
      <p className="small">
        <Rating value={item.average_rating} count={item.review_count} /> · {item.install_count} installs
      </p>
      <div className="card-foot">
        {item.installed ? (
          <span className="badge badge-ok">Installed</span>
        ) : (
          <Can role="admin">
            <Link className="button" to={`/integrations/${item.key}/install`} aria-label={`Install ${item.name}`}>
              Install
            </Link>
          </Can>
        )}
      </div>
    </li>
  );
}
