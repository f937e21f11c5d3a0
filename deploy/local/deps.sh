#!/usr/bin/env bash
# Every workspace package's imports match its declared dependencies (deptry, one run per package
# with that package's pyproject.toml; test.sh runs this as the "dependencies" step):
#   DEP001 imported but not declared           DEP002 declared but never imported
#   DEP003 imported but only installed through another dependency (a transitive one): a service
#          image installs exactly what its package declares, so whatever it imports must be
#          declared there, not merely arrive with aria-platform
#   DEP004 imported from a dev dependency
# Only each package's src/ is scanned (its tests run in the workspace venv with the dev group).
# Configuration, where a package needs any, is [tool.deptry] in that package's pyproject.toml.
# Packages are found as the workspace members (libs/*, services/*), so a new one is covered.
#   deploy/local/deps.sh                      all packages
#   deploy/local/deps.sh services/installer   one package
set -uo pipefail

LOG_TAG=deps
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cd "$REPO_ROOT" || exit 1
ensure_venv

if [ $# -gt 0 ]; then
  packages=("$@")
else
  mapfile -t packages < <(for f in libs/*/pyproject.toml services/*/pyproject.toml; do dirname "$f"; done)
fi

failed=()
for pkg in "${packages[@]}"; do
  if [ ! -f "$pkg/pyproject.toml" ] || [ ! -d "$pkg/src" ]; then
    warn "$pkg: no pyproject.toml or src/"
    failed+=("$pkg")
    continue
  fi
  log "deptry $pkg"
  # The workspace venv holds every package, so deptry can tell a transitive dependency (DEP003)
  # from a missing one (DEP001).
  if ! "$VENV_DIR/bin/deptry" "$pkg/src" --config "$pkg/pyproject.toml" --no-ansi; then
    failed+=("$pkg")
  fi
done

if [ ${#failed[@]} = 0 ]; then
  log "all ${#packages[@]} packages declare what they import"
  exit 0
fi
log "imports and declared dependencies differ in: ${failed[*]}"
exit 1
