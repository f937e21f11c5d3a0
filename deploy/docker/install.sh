#!/bin/sh
# Installs into a virtualenv exactly the locked dependency closure of one workspace package, and
# nothing else: `uv export --frozen --package PACKAGE --no-dev` (uv.lock's pinned third-party
# packages, the workspace members it depends on as local non-editable paths) applied with
# `uv pip sync`, which also removes anything not in that list. The export is kept as
# VENV/requirements.txt.
#
# deploy/docker/service.Dockerfile builds every image with it (the services and the simulator),
# and tests/test_service_packaging.py checks each service in a venv made by it, so what the test
# imports is what the image holds.
#
#   deploy/docker/install.sh PACKAGE VENV                  third-party packages + workspace members
#   deploy/docker/install.sh PACKAGE VENV --third-party    third-party only (the image's cached layer)
set -eu

[ $# -ge 2 ] || { echo "usage: $0 PACKAGE VENV [--third-party]" >&2; exit 2; }
package=$1
venv=$2
emit=
if [ "${3:-}" = --third-party ]; then
  emit=--no-emit-workspace
fi
case $venv in
  /*) ;;
  *) venv=$PWD/$venv ;;
esac
# The export names workspace members by paths relative to the repository root.
cd "$(dirname "$0")/../.."

[ -x "$venv/bin/python" ] || uv venv --quiet "$venv"
# shellcheck disable=SC2086  # $emit is one flag or nothing
uv export --quiet --frozen --package "$package" --no-dev --no-hashes --no-editable \
  --no-header --no-annotate $emit >"$venv/requirements.txt"
# uv rebuilds a cached wheel of a local directory only when its pyproject.toml changes, so the
# workspace members (the export's ./ paths) are always rebuilt and reinstalled from their
# sources: otherwise a venv or an image could get a member's code from an older build.
members=
for path in $(grep '^\./' "$venv/requirements.txt" | cut -d' ' -f1); do
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$path/pyproject.toml" | head -n 1)
  members="$members --reinstall-package $name"
done
# shellcheck disable=SC2086  # $members is a list of flags
uv pip sync --quiet --python "$venv/bin/python" $members "$venv/requirements.txt"
