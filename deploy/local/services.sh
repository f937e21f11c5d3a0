# shellcheck shell=bash
# The five services of the local stack: ports, environment, start/stop/readiness.
# Sourced by up.sh and down.sh after lib.sh.

SERVICES=(catalog installer vault-gateway sync-runner webhook-ingest)
# Ports: services PORT_BASE+1..+5 (8001-8005), the simulator 9101, the edge 8080; each can be
# moved (a second stack on the same machine: ARIA_LOCAL_PORT_BASE, ARIA_LOCAL_SIMULATOR_PORT,
# ARIA_LOCAL_EDGE_PORT). ARIA_LOCAL_DB_SUFFIX gives the stack its own databases (aria_<svc><suffix>).
_base=${ARIA_LOCAL_PORT_BASE:-8000}
declare -A SERVICE_PORTS=([catalog]=$((_base + 1)) [installer]=$((_base + 2)) [vault-gateway]=$((_base + 3))
  [sync-runner]=$((_base + 4)) [webhook-ingest]=$((_base + 5)))
SIMULATOR_PORT=${ARIA_LOCAL_SIMULATOR_PORT:-9101}
EDGE_PORT=${ARIA_LOCAL_EDGE_PORT:-8080}
DB_SUFFIX=${ARIA_LOCAL_DB_SUFFIX:-}
SERVICES_STATE="${ARIA_LOCAL_SERVICES_STATE:-$STATE_DIR/services}"
EDGE_STATE="$SERVICES_STATE/edge"
UI_DIR="$REPO_ROOT/ui"

# Run a command with one service's environment: the shared settings from infra.env plus
# its own database and port. Test-only admin credentials are never passed on, and only
# vault-gateway gets the AppRole credentials.
service_env_vars() { # service -> sets SVC_UNSET and SVC_VARS (arguments for env(1))
  local svc=$1 db
  db="aria_${svc//-/_}$DB_SUFFIX"
  local pg_hostport
  pg_hostport=$(sed -E 's#^postgresql://[^@]+@([^/]+)/.*#\1#' <<<"$ARIA_TEST_DATABASE_ADMIN_URL")
  SVC_VARS=(
    "ARIA_DATABASE_URL=postgresql://aria:aria@$pg_hostport/$db"
    "ARIA_HTTP_PORT=${SERVICE_PORTS[$svc]}"
    "ARIA_KAFKA_BOOTSTRAP=$ARIA_KAFKA_BOOTSTRAP"
    "ARIA_JWT_SECRET=$ARIA_JWT_SECRET"
  )
  SVC_UNSET=(-u ARIA_VAULT_ADMIN_TOKEN -u ARIA_TEST_DATABASE_ADMIN_URL -u ARIA_VAULT_MODE)
  case "$svc" in
    vault-gateway)
      SVC_VARS+=("ARIA_VAULT_ADDR=$ARIA_VAULT_ADDR" "ARIA_VAULT_ROLE_ID=$ARIA_VAULT_ROLE_ID"
        "ARIA_VAULT_SECRET_ID=$ARIA_VAULT_SECRET_ID")
      ;;
    *)
      SVC_UNSET+=(-u ARIA_VAULT_ADDR -u ARIA_VAULT_ROLE_ID -u ARIA_VAULT_SECRET_ID)
      ;;
  esac
  case "$svc" in
    installer)
      # Local stack only: the console's dev sign-in (POST /v1/dev/sign-in).
      SVC_VARS+=("ARIA_DEV_SIGNIN=1")
      # Local stack only: Try demo against the CrowdStrike simulator this stack runs (its demo
      # credentials are the simulator's documented defaults, not a secret).
      SVC_VARS+=("ARIA_DEMO_CONFIGS={\"crowdstrike_falcon\": {\"base_url\": \"http://127.0.0.1:$SIMULATOR_PORT\", \"client_id\": \"demo-client-id\", \"client_secret\": \"demo-client-secret\"}}")
      SVC_VARS+=("ARIA_VAULT_GATEWAY_URL=http://127.0.0.1:${SERVICE_PORTS[vault-gateway]}"
        "ARIA_SYNC_RUNNER_URL=http://127.0.0.1:${SERVICE_PORTS[sync-runner]}"
        "ARIA_WEBHOOK_INGEST_URL=http://127.0.0.1:${SERVICE_PORTS[webhook-ingest]}"
        "ARIA_WEBHOOK_BASE_URL=http://127.0.0.1:$EDGE_PORT")  # vendors post through the edge
      ;;
    sync-runner)
      SVC_VARS+=("ARIA_VAULT_GATEWAY_URL=http://127.0.0.1:${SERVICE_PORTS[vault-gateway]}"
        "ARIA_OUTBOUND_ALLOWLIST=${ARIA_OUTBOUND_ALLOWLIST:-127.0.0.1,localhost}")
      ;;
    webhook-ingest)
      SVC_VARS+=("ARIA_VAULT_GATEWAY_URL=http://127.0.0.1:${SERVICE_PORTS[vault-gateway]}")
      ;;
  esac
}

service_env() { # service command...
  service_env_vars "$1"
  shift
  env "${SVC_UNSET[@]}" "${SVC_VARS[@]}" "$@"
}

start_service() { # service
  local svc=$1 port=${SERVICE_PORTS[$1]}
  port_open "$port" && die "port $port ($svc) is already in use by a process this script did not start"
  log "starting $svc on :$port (log $SERVICES_STATE/$svc.log)"
  # setsid: the pid is the process-group id, so stop_pidfile also stops uv's python child.
  service_env_vars "$svc"
  setsid env "${SVC_UNSET[@]}" "${SVC_VARS[@]}" uv run --frozen "aria-$svc" serve \
    </dev/null >"$SERVICES_STATE/$svc.log" 2>&1 9>&- &
  echo $! >"$SERVICES_STATE/$svc.pid"
}

stop_service() { # service
  stop_pidfile "$SERVICES_STATE/$1.pid" "aria-$1" "$1" 30
}

wait_ready() { # service timeout_seconds
  local svc=$1 timeout=$2 port=${SERVICE_PORTS[$1]} pid i
  pid=$(cat "$SERVICES_STATE/$svc.pid")
  for ((i = 0; i < timeout * 2; i++)); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; then
      log "$svc ready on :$port"
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      warn "$svc exited; last lines of $SERVICES_STATE/$svc.log:"
      tail -n 30 "$SERVICES_STATE/$svc.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  warn "$svc not ready after ${timeout}s; last lines of $SERVICES_STATE/$svc.log:"
  tail -n 30 "$SERVICES_STATE/$svc.log" >&2 || true
  return 1
}

# --------------------------------------------------------------------------- the console

# Debian's nginx (the edge) and Node's modules for the console.
ensure_nginx() {
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] && return 0
  log "apt-get install nginx-light (the local edge)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx-light
}

ensure_node() {
  command -v npm >/dev/null 2>&1 && return 0
  log "apt-get install nodejs npm (building the console)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
}

# npm ci from the committed lockfile when node_modules is missing or older than the lockfile.
ui_deps() {
  ensure_node
  if [ ! -d "$UI_DIR/node_modules" ] || [ "$UI_DIR/package-lock.json" -nt "$UI_DIR/node_modules/.package-lock.json" ]; then
    log "npm ci (ui/)"
    (cd "$UI_DIR" && npm ci --no-audit --no-fund --loglevel=error) || return 1
  fi
}

ui_build() {
  ui_deps || return 1
  log "building the console (ui/dist)"
  (cd "$UI_DIR" && npm run --silent build >/dev/null) || return 1
}

# The edge's nginx.conf on stdout, from the template and this stack's ports; request budgets per
# client in requests/s: ARIA_EDGE_API_RATE (50), ARIA_EDGE_WEBHOOK_RATE (200); bursts are in the routes.
render_edge_conf() {
  sed -e "s#@STATE@#$EDGE_STATE#g" -e "s#@UI_DIST@#$UI_DIR/dist#g" -e "s#@EDGE_PORT@#$EDGE_PORT#g" \
    -e "s#@CATALOG_PORT@#${SERVICE_PORTS[catalog]}#g" -e "s#@INSTALLER_PORT@#${SERVICE_PORTS[installer]}#g" \
    -e "s#@WEBHOOK_INGEST_PORT@#${SERVICE_PORTS[webhook-ingest]}#g" \
    -e "s#@API_RATE@#${ARIA_EDGE_API_RATE:-50}#g" -e "s#@WEBHOOK_RATE@#${ARIA_EDGE_WEBHOOK_RATE:-200}#g" \
    -e "s#@EDGE_ROUTES@#$REPO_ROOT/deploy/edge/public-routes.conf#g" \
    "$LOCAL_DIR_SCRIPTS/edge/nginx.conf.template"
}

start_edge() {
  ensure_nginx
  local nginx_bin
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
  [ -f "$UI_DIR/dist/index.html" ] || die "the console is not built (ui/dist); ui_build builds it"
  port_open "$EDGE_PORT" && die "port $EDGE_PORT (edge) is already in use by a process this script did not start"
  mkdir -p "$EDGE_STATE/tmp"
  render_edge_conf >"$EDGE_STATE/nginx.conf"
  log "starting the edge (nginx) on :$EDGE_PORT"
  setsid "$nginx_bin" -e "$EDGE_STATE/error.log" -p "$EDGE_STATE" -c "$EDGE_STATE/nginx.conf" \
    </dev/null >"$EDGE_STATE/stdout.log" 2>&1 9>&- &
  echo $! >"$EDGE_STATE/edge.pid"
  wait_port "$EDGE_PORT" 20 "$(cat "$EDGE_STATE/edge.pid")" || {
    tail -n 20 "$EDGE_STATE/error.log" "$EDGE_STATE/stdout.log" >&2 || true
    return 1
  }
}

stop_edge() {
  stop_pidfile "$EDGE_STATE/edge.pid" "nginx" edge 20
}

# --------------------------------------------------------------------------- simulator

# The vendor simulators (the connector test kit; not installed in service images).
simulator_module() {
  venv_has_module aria_connector_testkit.simulators && echo aria_connector_testkit.simulators
}

start_simulator() { # vendor key -> 0 started, 1 no simulator module
  local module
  module=$(simulator_module) || return 1
  log "starting the $1 simulator on :$SIMULATOR_PORT"
  port_open "$SIMULATOR_PORT" && die "port $SIMULATOR_PORT is already in use"
  setsid uv run --frozen python -m "$module" serve "$1" --port "$SIMULATOR_PORT" \
    </dev/null >"$SERVICES_STATE/simulator.log" 2>&1 9>&- &
  echo $! >"$SERVICES_STATE/simulator.pid"
}

stop_simulator() {
  stop_pidfile "$SERVICES_STATE/simulator.pid" aria_connector_testkit.simulators simulator 20
}
