#!/usr/bin/env bash
# The web console's checks, run by deploy/local/test.sh (two steps):
#   deploy/local/console.sh check   npm ci (ui/package-lock.json); the generated API client matches
#                                   the services' OpenAPI (npm run check:api); type check + build;
#                                   Vitest unit tests
#   deploy/local/console.sh e2e     a private stack on the running infrastructure (infra.env): the
#                                   five services on fresh databases aria_<svc>_e2e, the CrowdStrike
#                                   simulator and the nginx edge, then ui/e2e/run.mjs in Debian's
#                                   Chromium (screenshots to docs/screenshots/); everything it
#                                   started is stopped on exit.
# e2e ports (not the local stack's, so both can run at once): ARIA_E2E_PORT_BASE (28000: services
# 28001-28005), ARIA_E2E_SIMULATOR_PORT (29101), ARIA_E2E_EDGE_PORT (28080); ARIA_E2E_DB_SUFFIX
# (_e2e) names the databases, so two checkouts on one PostgreSQL do not drop each other's.
set -uo pipefail

LOG_TAG=console
export ARIA_LOCAL_PORT_BASE=${ARIA_E2E_PORT_BASE:-28000}
export ARIA_LOCAL_SIMULATOR_PORT=${ARIA_E2E_SIMULATOR_PORT:-29101}
export ARIA_LOCAL_EDGE_PORT=${ARIA_E2E_EDGE_PORT:-28080}
export ARIA_LOCAL_DB_SUFFIX=${ARIA_E2E_DB_SUFFIX:-_e2e}
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
export ARIA_LOCAL_SERVICES_STATE="$STATE_DIR/console-e2e"
# shellcheck source=deploy/local/services.sh
. "$LOCAL_DIR_SCRIPTS/services.sh"
cd "$REPO_ROOT" || exit 1

check() {
  ui_deps || die "npm ci failed"
  local failed=0
  (cd "$UI_DIR" && npm run --silent check:api) || failed=1
  (cd "$UI_DIR" && npm run --silent build >/dev/null && log "type check and build: ok") || failed=1
  (cd "$UI_DIR" && npx vitest run --reporter=dot) || failed=1
  return $failed
}

ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  log "apt-get install chromium (the console's end-to-end tests)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
}

stop_all() {
  stop_edge
  stop_simulator
  for svc in "${SERVICES[@]}"; do stop_service "$svc"; done
}

e2e() {
  [ -s "$INFRA_ENV" ] || die "no $INFRA_ENV: start the infrastructure first (deploy/local/infra.sh up --dev)"
  # shellcheck disable=SC1090
  . "$INFRA_ENV"
  ensure_chromium
  ensure_nginx
  [ -f "$UI_DIR/dist/index.html" ] || ui_build || die "the console did not build"
  mkdir -p "$SERVICES_STATE"
  trap stop_all EXIT
  stop_all
  # A fixed group prefix: a rerun on a dev broker continues from the previous run's offsets.
  export ARIA_KAFKA_GROUP_PREFIX=console-e2e- ARIA_OUTBOX_POLL_INTERVAL_S=0.2
  local svc db
  for svc in "${SERVICES[@]}"; do
    db="aria_${svc//-/_}$DB_SUFFIX"
    psql -X -q "$ARIA_TEST_DATABASE_ADMIN_URL" -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null || die "could not create $db"
    service_env "$svc" uv run --frozen "aria-$svc" migrate >/dev/null || die "migrating $svc failed"
  done
  for svc in "${SERVICES[@]}"; do start_service "$svc"; done
  start_simulator crowdstrike_falcon || die "no vendor simulators (aria_connector_testkit) in the virtualenv"
  local failed=0
  for svc in "${SERVICES[@]}"; do wait_ready "$svc" 120 || failed=1; done
  wait_port "$SIMULATOR_PORT" 60 "$(cat "$SERVICES_STATE/simulator.pid")" || failed=1
  [ $failed = 0 ] || die "the e2e stack did not start (logs in $SERVICES_STATE)"
  start_edge || die "the edge did not start"
  (cd "$UI_DIR" && E2E_BASE_URL="http://127.0.0.1:$EDGE_PORT" E2E_SIMULATOR="http://127.0.0.1:$SIMULATOR_PORT" \
    node e2e/run.mjs)
}

case "${1:-}" in
  check) check ;;
  e2e) e2e ;;
  *) die "usage: deploy/local/console.sh check|e2e" ;;
esac
