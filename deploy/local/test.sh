#!/usr/bin/env bash
# README command 2, and what CI runs (.ci/run):
#   uv sync, dev infrastructure (deploy/local/infra.sh up --dev), then in order
#   1. import contracts   uv run --frozen lint-imports   (.importlinter)
#   2. dependencies       deploy/local/deps.sh            (deptry: each package declares what it imports)
#   3. manifests          deploy/local/validate.sh        (Kubernetes + docker compose)
#   4. console checks     deploy/local/console.sh check   (npm ci, API client drift, types, Vitest)
#   5. console e2e        deploy/local/console.sh e2e     (Playwright in Chromium against a stack)
#   6. tests              uv run --frozen pytest "$@"
# Every step runs even if an earlier one failed; the exit status is non-zero if any failed.
# On exit Kafka and OpenBao are stopped unless ARIA_KEEP_INFRA=1 (PostgreSQL keeps running).
set -uo pipefail

LOG_TAG="test"
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cd "$REPO_ROOT" || exit 1

cleanup() {
  local rc=$?
  if [ "${ARIA_KEEP_INFRA:-0}" = 1 ]; then
    log "ARIA_KEEP_INFRA=1: leaving Kafka and OpenBao running (deploy/local/infra.sh down stops them)"
  else
    "$LOCAL_DIR_SCRIPTS/infra.sh" down || true
  fi
  exit "$rc"
}

ensure_uv
log "uv sync --frozen --all-packages"
uv sync --frozen --all-packages || die "uv sync failed"

trap cleanup EXIT
trap 'exit 130' INT TERM
"$LOCAL_DIR_SCRIPTS/infra.sh" up --dev || die "infrastructure did not start"
# shellcheck disable=SC1090
. "$INFRA_ENV"
# This run started (or owns) the broker: the test that stops and restarts it may run.
export ARIA_TEST_RESTART_KAFKA=1

declare -a results=()
failed=0
step() { # name command...
  local name=$1 rc started=$SECONDS took
  shift
  log "=== $name: $*"
  "$@"
  rc=$?
  took="$(((SECONDS - started) / 60))m$(((SECONDS - started) % 60))s"
  if [ $rc = 0 ]; then
    results+=("PASS  $name ($took)")
  else
    results+=("FAIL  $name (exit $rc, $took)")
    failed=1
  fi
}

step "import contracts" uv run --frozen lint-imports
step "dependencies" "$LOCAL_DIR_SCRIPTS/deps.sh"
step "manifests" "$LOCAL_DIR_SCRIPTS/validate.sh"
# Before pytest: the e2e stack's new consumer groups then have little history to replay.
step "console checks" "$LOCAL_DIR_SCRIPTS/console.sh" check
step "console e2e" "$LOCAL_DIR_SCRIPTS/console.sh" e2e
step "pytest" uv run --frozen pytest "$@"

log "summary:"
for r in "${results[@]}"; do log "  $r"; done
exit $failed
