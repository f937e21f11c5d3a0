# shellcheck shell=bash
# Helpers shared by deploy/local/*.sh (sourced, not executed).

LOCAL_DIR_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$LOCAL_DIR_SCRIPTS/../.." && pwd)"
STATE_DIR="${ARIA_LOCAL_DIR:-$REPO_ROOT/.local}"
INFRA_ENV="$STATE_DIR/infra.env"

log()  { printf '[%s] %s\n' "${LOG_TAG:-aria}" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "${LOG_TAG:-aria}" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "${LOG_TAG:-aria}" "$*" >&2; exit 1; }

# Run a command as root (we are root on the dev/CI machines; sudo otherwise).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Make sure `uv` is on PATH; the README/CI path installs it with pip when missing.
ensure_uv() {
  command -v uv >/dev/null 2>&1 && return 0
  log "uv not found; installing it with pip"
  if command -v pip >/dev/null 2>&1; then
    pip install --quiet uv || pip install --quiet --break-system-packages uv
  else
    python3 -m pip install --quiet uv || python3 -m pip install --quiet --break-system-packages uv
  fi
  hash -r
  if ! command -v uv >/dev/null 2>&1; then
    # pip --user installs land in ~/.local/bin, which may not be on PATH yet.
    export PATH="$HOME/.local/bin:$PATH"
  fi
  command -v uv >/dev/null 2>&1 || die "could not install uv"
}

# The repo's virtualenv (created by `uv sync --frozen --all-packages`).
VENV_DIR="${UV_PROJECT_ENVIRONMENT:-$REPO_ROOT/.venv}"
VENV_PY="$VENV_DIR/bin/python"

ensure_venv() {
  if [ ! -x "$VENV_PY" ] || [ ! -e "$VENV_DIR/bin/bao" ]; then
    ensure_uv
    log "creating the virtualenv: uv sync --frozen --all-packages"
    (cd "$REPO_ROOT" && uv sync --frozen --all-packages)
  fi
}

# Is a python module importable in the repo venv? (used to tolerate modules that are
# still being written by someone else)
venv_has_module() {
  "$VENV_PY" - "$1" <<'EOF' >/dev/null 2>&1
import importlib.util, sys
try:
    ok = importlib.util.find_spec(sys.argv[1]) is not None
except Exception:
    ok = False
sys.exit(0 if ok else 1)
EOF
}

# TCP port accepting connections on 127.0.0.1?
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1
}

wait_port() { # port timeout_seconds [pid]
  local port=$1 timeout=$2 pid=${3:-} i
  for ((i = 0; i < timeout * 4; i++)); do
    port_open "$port" && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    sleep 0.25
  done
  return 1
}

# pid from a pid file if that process is alive and its command line contains $2.
pid_alive() { # pidfile pattern
  local pidfile=$1 pattern=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$pattern" || return 1
  echo "$pid"
}

# Stop the process (group) recorded in a pid file: TERM, wait, then KILL.
stop_pidfile() { # pidfile pattern name [timeout]
  local pidfile=$1 pattern=$2 name=$3 timeout=${4:-30} pid i
  if pid=$(pid_alive "$pidfile" "$pattern"); then
    log "stopping $name (pid $pid)"
    # Started with setsid, so the pid is also the process-group id: signal the group
    # (uv run -> python children included). Fall back to the single pid.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < timeout * 4; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "$name did not stop in ${timeout}s; killing it"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

random_hex() { # bytes
  od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}
