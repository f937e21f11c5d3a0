# shellcheck shell=bash
# The five services of the local stack: ports, environment, start/stop/readiness.
# Sourced by up.sh and down.sh after lib.sh.

SERVICES=(catalog installer vault-gateway sync-runner webhook-ingest)
declare -A SERVICE_PORTS=([catalog]=8001 [installer]=8002 [vault-gateway]=8003 [sync-runner]=8004 [webhook-ingest]=8005)
SIMULATOR_PORT=9101
SERVICES_STATE="$STATE_DIR/services"

# Run a command with one service's environment: the shared settings from infra.env plus
# its own database and port. Test-only admin credentials are never passed on, and only
# vault-gateway gets the AppRole credentials.
service_env_vars() { # service -> sets SVC_UNSET and SVC_VARS (arguments for env(1))
  local svc=$1 db
  db="aria_${svc//-/_}"
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
      SVC_VARS+=("ARIA_VAULT_GATEWAY_URL=http://127.0.0.1:${SERVICE_PORTS[vault-gateway]}"
        "ARIA_SYNC_RUNNER_URL=http://127.0.0.1:${SERVICE_PORTS[sync-runner]}"
        "ARIA_WEBHOOK_BASE_URL=http://127.0.0.1:${SERVICE_PORTS[webhook-ingest]}")
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
