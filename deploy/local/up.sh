#!/usr/bin/env bash
# The local ARIA stack without Docker (README command 1):
#   persistent infrastructure (deploy/local/infra.sh up), the virtualenv, migrations, the five
#   services, the CrowdStrike Falcon simulator on :9101, the demo organization, and the edge
#   (nginx on :8080: the built web console ui/ and the public API on one origin).
# Re-running it restarts the services (picking up code changes and the fresh AppRole
# secret_id that infra.sh writes on every `up`). Stop with deploy/local/down.sh.
# Logs and pid files: $ARIA_LOCAL_DIR/services/ (default <repo>/.local/services/).
set -euo pipefail

LOG_TAG=up
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
# shellcheck source=deploy/local/services.sh
. "$LOCAL_DIR_SCRIPTS/services.sh"

cd "$REPO_ROOT"
ensure_uv
"$LOCAL_DIR_SCRIPTS/infra.sh" up
log "uv sync --frozen --all-packages"
uv sync --frozen --all-packages

# shellcheck disable=SC1090
. "$INFRA_ENV"
PG_HOSTPORT=$(sed -E 's#^postgresql://[^@]+@([^/]+)/.*#\1#' <<<"$ARIA_TEST_DATABASE_ADMIN_URL")

mkdir -p "$SERVICES_STATE"
for svc in "${SERVICES[@]}"; do
  log "migrating $svc"
  service_env "$svc" uv run --frozen "aria-$svc" migrate
done

for svc in "${SERVICES[@]}"; do
  stop_service "$svc"
done
stop_simulator
stop_edge

for svc in "${SERVICES[@]}"; do
  start_service "$svc"
done

SIMULATOR=0
if start_simulator crowdstrike_falcon; then
  SIMULATOR=1
else
  warn "no vendor simulators module in the virtualenv: no CrowdStrike simulator"
fi

failed=0
for svc in "${SERVICES[@]}"; do
  wait_ready "$svc" 120 || failed=1
done
if [ $SIMULATOR = 1 ]; then
  if ! wait_port "$SIMULATOR_PORT" 60 "$(cat "$SERVICES_STATE/simulator.pid")"; then
    tail -n 30 "$SERVICES_STATE/simulator.log" >&2 || true
    warn "the simulator did not come up; see $SERVICES_STATE/simulator.log"
    failed=1
  fi
fi
[ $failed = 0 ] || die "some processes did not become ready (logs in $SERVICES_STATE); deploy/local/down.sh stops the rest"

if venv_has_module aria_installer.demo; then
  log "seeding the demo organization: python -m aria_installer.demo"
  uv run --frozen python -m aria_installer.demo \
    --installer "http://127.0.0.1:${SERVICE_PORTS[installer]}" \
    --simulator "http://127.0.0.1:$SIMULATOR_PORT" | tee "$SERVICES_STATE/demo.txt" \
    || warn "the demo seed failed (the stack itself is up)"
else
  warn "aria_installer.demo does not exist yet: no demo organization"
fi

# The console and the public API behind one origin (nginx).
ui_build || die "the console did not build (ui/)"
start_edge || die "the edge (nginx) did not start; see $EDGE_STATE/error.log"

if [ "$ARIA_VAULT_MODE" = persistent ]; then
  BAO_NOTE="persistent; root token and unseal key in $STATE_DIR/bao/init.json"
else
  BAO_NOTE="dev mode, in memory; root token in $STATE_DIR/bao/dev-root-token"
fi
cat <<EOF

ARIA local stack is up:   http://127.0.0.1:$EDGE_PORT
  The web console and the public API (/v1/...) on one origin. Sign in with the dev sign-in
  (demo organization, choose viewer, operator or admin).

For operators (state, logs and pids in $STATE_DIR):
  services        catalog :${SERVICE_PORTS[catalog]}, installer :${SERVICE_PORTS[installer]}, vault-gateway :${SERVICE_PORTS[vault-gateway]}, sync-runner :${SERVICE_PORTS[sync-runner]}, webhook-ingest :${SERVICE_PORTS[webhook-ingest]} (each: /docs, /asyncapi, /readyz)
  CrowdStrike Falcon simulator  http://127.0.0.1:$SIMULATOR_PORT (client demo-client-id / demo-client-secret)
  PostgreSQL      postgresql://aria:aria@$PG_HOSTPORT/aria_<service>$DB_SUFFIX
  Kafka           $ARIA_KAFKA_BOOTSTRAP
  OpenBao         $ARIA_VAULT_ADDR ($BAO_NOTE)
Logs: $SERVICES_STATE/<service>.log   Environment: deploy/local/infra.sh env   Stop: deploy/local/down.sh
EOF
